package main

// Privilege and live-fault tests (issue 8): -Z drops root for good while
// capture goes on; the capture interface disappearing ends the process
// with an error naming it; SIGTERM under load exits 0 at once with the
// summary. They run the built binary as a subprocess and need root (CI
// runs the suite as root).

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hellowatch/hellowatch/internal/testkit"
	"github.com/hellowatch/hellowatch/internal/testkit/metrics"
)

// tlsHandshake makes one TLS connection with SNI name, sends a request and
// reads the answer.
func tlsHandshake(addr, name string) error {
	d := &net.Dialer{Timeout: 2 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: name, InsecureSkipVerify: true})
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("GET\n")); err != nil {
		return err
	}
	_, err = io.ReadAll(io.LimitReader(c, 3))
	return err
}

// TestDropPrivileges runs `-i lo -Z nobody`, checks in /proc that every
// thread runs as nobody with no capabilities and no other groups, that a
// TLS handshake made after the drop is reported, and that SIGTERM ends it
// with exit 0.
func TestDropPrivileges(t *testing.T) {
	sidecarNeedRoot(t)
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("skipped: no user nobody: %v", err)
	}
	bin := testkit.Build(t, "./cmd/hellowatch", false)
	ln := tlsServer(t, t.Context(), "priv.example")
	port := ln.Addr().(*net.TCPAddr).Port
	// -w opens its file after the drop, as tcpdump does: in a directory
	// only nobody may write to, so that root could not have created it.
	wdir, err := os.MkdirTemp("", "hellowatch-priv")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(wdir) })
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(wdir, uid, gid); err != nil {
		t.Fatal(err)
	}
	wfile := filepath.Join(wdir, "failed.pcapng")
	// The metrics port is bound before the drop: a privileged one works.
	metricsAddr := ""
	for lp := 900; lp < 1024 && metricsAddr == ""; lp++ {
		if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(lp)); err == nil {
			metricsAddr = l.Addr().String()
			l.Close()
		}
	}
	if metricsAddr == "" {
		t.Fatal("no free port below 1024")
	}
	p := startBin(t, bin, "-i", "lo", "-Z", "nobody", "-w", wfile, "--metrics-addr", metricsAddr, "--format", "json", "--summary", "always",
		"tcp", "port", strconv.Itoa(port))
	p.WaitFor(t, "dropped privileges", 10*time.Second)
	p.WaitFor(t, "capturing", 10*time.Second)

	pid := p.Cmd.Process.Pid
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if len(tasks) == 0 {
		t.Fatal("no threads in /proc")
	}
	want := strings.Repeat(u.Uid+" ", 3) + u.Uid
	wantG := strings.Repeat(u.Gid+" ", 3) + u.Gid
	for _, task := range tasks {
		st, err := testkit.ProcStatus(task)
		if err != nil {
			t.Fatal(err)
		}
		if st["Uid"] != want || st["Gid"] != wantG || st["Groups"] != u.Gid {
			t.Errorf("%s: Uid %q Gid %q Groups %q, want %q %q %q", task, st["Uid"], st["Gid"], st["Groups"], want, wantG, u.Gid)
		}
		for _, c := range []string{"CapEff", "CapPrm", "CapAmb"} {
			if strings.Trim(st[c], "0") != "" {
				t.Errorf("%s: %s %s: capabilities left after the drop", task, c, st[c])
			}
		}
	}
	// What only root could do — open a packet socket, bind a raw socket,
	// change users back — needs CAP_NET_RAW / CAP_SETUID, and uid 0 is gone
	// from all four ids (real, effective, saved, filesystem): checked above
	// on every thread, as the kernel sees them.

	// Capture goes on after the drop: a real handshake is reported.
	sni := "priv-" + randomHex(4) + ".example"
	if err := tlsHandshake(ln.Addr().String(), sni); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.Stdout.String(), sni) {
		if time.Now().After(deadline) {
			t.Fatalf("handshake with SNI %s not reported after the drop\nstdout: %s\nstderr: %s", sni, p.Stdout.String(), p.Stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	var rec map[string]any
	for _, l := range strings.Split(strings.TrimSpace(p.Stdout.String()), "\n") {
		if strings.Contains(l, sni) {
			if err := json.Unmarshal([]byte(l), &rec); err != nil {
				t.Fatal(err)
			}
		}
	}
	if rec["outcome"] != "established" {
		t.Errorf("record after the drop: %v", rec)
	}
	if code, body := metrics.Get(t, "http://"+metricsAddr+"/metrics"); code != 200 || !strings.Contains(body, "hellowatch_handshakes_total") {
		t.Errorf("metrics on privileged port %s after the drop: %d %.200s", metricsAddr, code, body)
	}
	p.Cmd.Process.Signal(syscall.SIGTERM)
	if code := p.Wait(t, 5*time.Second); code != 0 || !strings.Contains(p.Stderr.String(), "== hellowatch summary") {
		t.Fatalf("after SIGTERM: exit %d\n%s", code, p.Stderr.String())
	}
	testkit.NoPanic(t, p.Stderr.String())
	if fi, err := os.Stat(wfile); err != nil {
		t.Errorf("-w file: %v", err)
	} else if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != uid {
		t.Errorf("-w file %s owned by uid %d, want nobody (%d): created before the drop", wfile, st.Uid, uid)
	}
	t.Logf("as nobody (uid %s, gid %s) on every thread, CapEff 0, handshake %s reported: %v; -w file created as nobody; metrics on %s", u.Uid, u.Gid, sni, rec["outcome"], metricsAddr)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// TestInterfaceDisappears captures on a dummy interface, deletes it, and
// wants a non-zero exit within a few seconds with an error naming it (so
// that a supervisor restarts the process).
func TestInterfaceDisappears(t *testing.T) {
	sidecarNeedRoot(t)
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("skipped: the ip tool (iproute2) is not installed")
	}
	name := "hwt" + randomHex(4)
	// dummy needs its kernel module; veth and bridge are nearly always
	// built in.
	var tried []string
	for _, kind := range [][]string{{"type", "dummy"}, {"type", "veth", "peer", "name", name + "p"}, {"type", "bridge"}} {
		out, err := exec.Command(ip, append([]string{"link", "add", name}, kind...)...).CombinedOutput()
		if err == nil {
			tried = nil
			break
		}
		tried = append(tried, fmt.Sprintf("%s: %v: %s", kind[1], err, bytes.TrimSpace(out)))
	}
	if tried != nil {
		t.Skipf("skipped: cannot create a test interface: %s", strings.Join(tried, "; "))
	}
	deleted := false
	t.Cleanup(func() {
		if !deleted {
			exec.Command(ip, "link", "del", name).Run()
		}
	})
	if out, err := exec.Command(ip, "link", "set", name, "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set up: %v: %s", err, out)
	}
	bin := testkit.Build(t, "./cmd/hellowatch", false)
	p := startBin(t, bin, "-i", name, "--format", "json")
	p.WaitFor(t, "capturing", 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	if out, err := exec.Command(ip, "link", "del", name).CombinedOutput(); err != nil {
		t.Fatalf("ip link del: %v: %s", err, out)
	}
	deleted = true
	code := p.Wait(t, 5*time.Second)
	took := p.ExitedAt().Sub(start)
	stderr := p.Stderr.String()
	testkit.NoPanic(t, stderr)
	if code != exitError {
		t.Errorf("exit %d after the interface was deleted, want %d", code, exitError)
	}
	var errLine string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "hellowatch: ") {
			errLine = l
		}
	}
	if !strings.Contains(errLine, name) {
		t.Errorf("the error %q does not name the interface %s:\n%s", errLine, name, stderr)
	}
	t.Logf("interface %s deleted: exit %d after %v; stderr: %s", name, code, took.Round(time.Millisecond), strings.TrimSpace(stderr))
}

// TestSIGTERMUnderLoad captures on lo while clients make TLS handshakes as
// fast as they can, sends SIGTERM, and wants exit 0 within 2 s with the
// summary on stderr.
func TestSIGTERMUnderLoad(t *testing.T) {
	sidecarNeedRoot(t)
	bin := testkit.Build(t, "./cmd/hellowatch", false)
	ln := tlsServer(t, t.Context(), "priv.example")
	port := ln.Addr().(*net.TCPAddr).Port
	p := startBin(t, bin, "-i", "lo", "--format", "json", "tcp", "port", strconv.Itoa(port))
	p.WaitFor(t, "capturing", 10*time.Second)

	var stop atomic.Bool
	var made atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if tlsHandshake(ln.Addr().String(), "load.example") == nil {
					made.Add(1)
				}
			}
		}()
	}
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()
	// Let the load build up until records flow.
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(p.Stdout.String(), "\n") < 200 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	sent := time.Now()
	p.Cmd.Process.Signal(syscall.SIGTERM)
	code := p.Wait(t, 5*time.Second)
	took := p.ExitedAt().Sub(sent)
	stderr := p.Stderr.String()
	testkit.NoPanic(t, stderr)
	if code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0\n%s", code, stderr)
	}
	if took > 2*time.Second {
		t.Errorf("exit took %v after SIGTERM, want under 2s", took)
	}
	if !strings.Contains(stderr, "== hellowatch summary") {
		t.Errorf("no summary on stderr:\n%s", stderr)
	}
	out := p.Stdout.String()
	lines, sums := forJSONLines(t, "stdout", strings.NewReader(out), nil)
	if lines == 0 {
		t.Error("no handshake reported under load")
	}
	// A live run's JSON output ends with its summary line.
	last := out[strings.LastIndex(strings.TrimSuffix(out, "\n"), "\n")+1:]
	if len(sums) != 1 || !strings.HasPrefix(last, `{"type":"summary",`) {
		t.Errorf("JSON output does not end with the one summary line (%d summary lines): %q", len(sums), last)
	}
	t.Logf("SIGTERM after %d handshakes made, %d reported: exit %d in %v", made.Load(), lines, code, took.Round(time.Millisecond))
}
