package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hellowatch/hellowatch/capture"
	"github.com/hellowatch/hellowatch/internal/edge"
	"github.com/hellowatch/hellowatch/internal/testkit"
	"github.com/hellowatch/hellowatch/internal/testkit/metrics"
)

// topSample has a failing upstream (no SNI, refused with handshake_failure)
// beside a working one (the same server with SNI).
var topSample = filepath.Join("..", "..", "samples", "pcapng-mixed.pcapng")

// TestTopNoTerminal: without a terminal top says so and exits 2; its flags
// are the main command's plus --pace, which the main command does not have.
func TestTopNoTerminal(t *testing.T) {
	stdout, stderr, code := runCmd(t, "top", "-r", topSample)
	if code != exitUsage || stdout != "" || !strings.Contains(stderr, "hellowatch top: needs a terminal") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	_, stderr, code = runCmd(t, "top", "-h")
	if code != exitOK || !strings.Contains(stderr, "-pace") || !strings.Contains(stderr, "-metrics-addr") || !strings.Contains(stderr, "q quit") {
		t.Errorf("top -h: exit %d\n%s", code, stderr)
	}
	_, stderr, code = runCmd(t, "-r", topSample, "--pace")
	if code != exitUsage || !strings.Contains(stderr, "flag provided but not defined: -pace") {
		t.Errorf("--pace without top: exit %d\n%s", code, stderr)
	}
	// Usage errors come first, as for the main command.
	_, stderr, code = runCmd(t, "top")
	if code != exitUsage || !strings.Contains(stderr, "give exactly one of -i interface or -r file") {
		t.Errorf("top without a source: exit %d\n%s", code, stderr)
	}
}

// TestPacedSource: --pace hands a file's packets out no faster than they
// were captured, with a tick (no packet) at least every pacedTick so that
// the pipeline's clock moves on in capture time, and stops waiting at once
// when the view quits.
func TestPacedSource(t *testing.T) {
	// 2 s: the client waits for an answer that does not come, then closes.
	path := filepath.Join("..", "..", "samples", "no-sni-silent.pcap")
	var first, last int64
	var n, ticks int
	read := func(ps *pacedSource) error {
		lastNow := time.Time{}
		for {
			p, err := ps.Next()
			if err != nil {
				return err
			}
			if p != nil && n > 0 && p.TS < last {
				lastNow = time.Time{} // the next file: its own time
			}
			now := ps.Now()
			if now.Before(lastNow) {
				t.Errorf("Now went back from %v to %v", lastNow, now)
			}
			lastNow = now
			if p == nil {
				ticks++
				if now.UnixNano() < first || now.UnixNano() > first+int64(3*time.Second) {
					t.Errorf("tick at %v, outside the capture's time from %v", now, time.Unix(0, first))
				}
				continue
			}
			if n == 0 {
				first = p.TS
			}
			last = p.TS
			n++
		}
	}
	src, err := capture.OpenFiles([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	start := time.Now()
	if err := read(&pacedSource{Source: src, stop: make(chan struct{})}); !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	span := time.Duration(last - first)
	took := time.Since(start)
	if n == 0 || span < time.Second || took < span || took > span+time.Second {
		t.Errorf("%d packets spanning %v replayed in %v", n, span, took)
	}
	if want := int(span / pacedTick); ticks < want-2 || ticks > want+2 {
		t.Errorf("%d ticks in %v, want about %d", ticks, span, want)
	}

	// The same file twice in a row: the second starts afresh, not at the
	// pace of the first file's time; closing stop ends the wait at once.
	src2, err := capture.OpenFiles([]string{path, path})
	if err != nil {
		t.Fatal(err)
	}
	defer src2.Close()
	stop := make(chan struct{})
	time.AfterFunc(span*3/2, func() { close(stop) })
	perFile := n
	n, start = 0, time.Now()
	if err := read(&pacedSource{Source: src2, stop: stop}); !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	if took := time.Since(start); n <= perFile || n >= 2*perFile || took > span*3/2+200*time.Millisecond {
		t.Errorf("stopped after %v with %d packets (%d per file)", took, n, perFile)
	}
}

// tmux drives a terminal: a private tmux server on its own socket.
type tmux struct {
	t    *testing.T
	bin  string
	sock string
}

func newTmux(t *testing.T) *tmux {
	bin, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("skipped: tmux is not installed (scripts/test.sh installs it: apt-get install tmux)")
	}
	x := &tmux{t: t, bin: bin, sock: filepath.Join(t.TempDir(), "tmux.sock")}
	t.Cleanup(func() { _ = exec.Command(bin, "-S", x.sock, "kill-server").Run() })
	return x
}

func (x *tmux) run(args ...string) string {
	x.t.Helper()
	cmd := exec.Command(x.bin, append([]string{"-S", x.sock}, args...)...)
	// The server the first command starts passes this on to the pane:
	// no HELLOWATCH_* from the caller's shell, no NO_COLOR unless asked.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HELLOWATCH_") && !strings.HasPrefix(kv, "NO_COLOR=") && !strings.HasPrefix(kv, "TMUX") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		x.t.Fatalf("tmux %q: %v\n%s", args, err, out)
	}
	return string(out)
}

// screen returns what the pane shows; with escapes, its colours too.
func (x *tmux) screen(escapes bool) string {
	if escapes {
		return x.run("capture-pane", "-p", "-e", "-t", "top")
	}
	return x.run("capture-pane", "-p", "-t", "top")
}

// wait polls the pane until ok says yes, for up to 10 s.
func (x *tmux) wait(what string, ok func(string) bool) string {
	x.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := x.screen(false)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			x.t.Fatalf("the screen never showed %s:\n%s", what, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (x *tmux) waitFor(text string) string {
	x.t.Helper()
	return x.wait(`"`+text+`"`, func(s string) bool { return strings.Contains(s, text) })
}

// start runs cmdline in a new 100x30 session; its exit code goes to the
// file code, its stderr to the file stderr, both in dir.
func (x *tmux) start(dir, cmdline string) {
	x.run("new-session", "-d", "-s", "top", "-x", "100", "-y", "30",
		"sh -c '"+cmdline+" 2>"+filepath.Join(dir, "stderr")+"; echo $? >"+filepath.Join(dir, "code")+"'")
}

// exitCode waits for the command to end and returns its exit code.
func exitCode(t *testing.T, dir string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dir, "code"))
		if err == nil && bytes.HasSuffix(b, []byte("\n")) {
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			t.Fatal("the command did not end")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// rowLine returns the screen line of the row whose text matches re.
func rowLine(t *testing.T, screen, re string) string {
	t.Helper()
	l := regexp.MustCompile(`(?m)^.*` + re + `.*$`).FindString(screen)
	if l == "" {
		t.Fatalf("no row matching %s:\n%s", re, screen)
	}
	return l
}

// TestTopTmux runs the built hellowatch top -r on a sample inside tmux, as
// a person would: the failing upstream is on top with its finding, j and k
// move, Enter shows the fix, / filters, a narrower terminal gets the
// two-line rows, and q exits 0, after which the end summary says the same
// numbers. A second run with -w and --fail-on writes the same packets as
// the main command and exits 3; a third with NO_COLOR has no colour.
func TestTopTmux(t *testing.T) {
	x := newTmux(t)
	bin := testkit.Build(t, "./cmd/hellowatch", false)
	sample, err := filepath.Abs(topSample)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	x.start(dir, bin+" top -r "+sample)
	screen := x.waitFor("read to the end")

	lines := strings.Split(screen, "\n")
	title := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "TOP FINDING") })
	if title < 0 || title+2 >= len(lines) {
		t.Fatalf("no table:\n%s", screen)
	}
	failing, working := lines[title+1], lines[title+2]
	for _, want := range []string{"> 127.0.0.1:8443", "(no SNI)", " 2 ", "100%", "missing_sni 2", "server fatal"} {
		if !strings.Contains(failing, want) {
			t.Errorf("top row %q lacks %q", failing, want)
		}
	}
	for _, want := range []string{`  127.0.0.1:8443  "abc.example.com"`, " 0%", " -  "} {
		if !strings.Contains(working, want) {
			t.Errorf("second row %q lacks %q", working, want)
		}
	}
	if !strings.Contains(screen, "4 handshakes, 2 failed") {
		t.Errorf("header:\n%s", screen)
	}

	x.run("send-keys", "-t", "top", "j")
	x.wait("the selection on the working row", func(s string) bool {
		return strings.HasPrefix(rowLine(t, s, `abc\.example\.com`), "> ")
	})
	x.run("send-keys", "-t", "top", "k")
	x.wait("the selection back on the failing row", func(s string) bool {
		return strings.HasPrefix(rowLine(t, s, `\(no SNI\)`), "> ")
	})

	x.run("send-keys", "-t", "top", "Enter")
	detail := x.waitFor("2 of 2 handshakes failed; the latest 2, newest first")
	for _, want := range []string{
		"127.0.0.1:45852 → 127.0.0.1:8443 (no SNI) TLS 1.2 → - server_alert server fatal",
		"missing_sni (error)",
		"fix: nginx: add `proxy_ssl_server_name on;`",
		"nginx log: SSL_do_handshake() failed",
	} {
		if !strings.Contains(detail, want) {
			t.Errorf("the detail lacks %q:\n%s", want, detail)
		}
	}
	x.run("send-keys", "-t", "top", "Escape")
	x.waitFor("TOP FINDING")

	x.run("send-keys", "-t", "top", "/", "a", "b", "c", "Enter")
	filtered := x.waitFor(`filter "abc"`)
	if strings.Contains(filtered, "(no SNI)") || !strings.Contains(filtered, "> 127.0.0.1:8443") {
		t.Errorf("filtered on abc:\n%s", filtered)
	}
	x.run("send-keys", "-t", "top", "Escape")
	x.wait("both rows again", func(s string) bool { return strings.Contains(s, "(no SNI)") && strings.Contains(s, "abc.example.com") })

	x.run("resize-window", "-t", "top", "-x", "60", "-y", "30")
	narrow := x.waitFor("SERVER SNI / HS/S")
	// The selection stayed on the row the filter left (abc).
	if !strings.Contains(narrow, "  127.0.0.1:8443 (no SNI)\n    0.1/s  2 failed 100%  75µs/197µs  missing_sni 2") ||
		!strings.Contains(narrow, `> 127.0.0.1:8443 "abc.example.com"`) || !strings.Contains(narrow, "4 handshakes, 2 failed") {
		t.Errorf("60 columns:\n%s", narrow)
	}
	for _, l := range strings.Split(narrow, "\n") {
		if n := len([]rune(l)); n > 60 {
			t.Errorf("a %d-column line on 60 columns: %q", n, l)
		}
	}

	withColor := x.screen(true)
	x.run("send-keys", "-t", "top", "q")
	if code := exitCode(t, dir); code != "0" {
		t.Fatalf("q: exit %s", code)
	}
	if !strings.Contains(withColor, "\x1b[") {
		t.Errorf("no colour on a terminal without NO_COLOR:\n%q", withColor)
	}
	stderr, err := os.ReadFile(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	// The end summary, after the view: the same handshakes, failures and
	// findings as its rows.
	for _, want := range []string{
		"== hellowatch summary: 4 handshakes, 2 established, 2 failed, 0 incomplete",
		`127.0.0.1:8443  "abc.example.com"  2      established=2   -`,
		"127.0.0.1:8443  (no SNI)           2      server_alert=2  missing_sni=2",
	} {
		if !strings.Contains(string(stderr), want) {
			t.Errorf("the end summary lacks %q:\n%s", want, stderr)
		}
	}

	// -w and --fail-on as the main command: the same failed flows' packets,
	// exit 3. NO_COLOR: no colour.
	x = newTmux(t)
	dir2 := t.TempDir()
	topPcap, mainPcap := filepath.Join(dir2, "top.pcapng"), filepath.Join(dir2, "main.pcapng")
	x.start(dir2, "env NO_COLOR=1 "+bin+" top -r "+sample+" -w "+topPcap+" --fail-on any")
	x.waitFor("read to the end")
	plain := x.screen(true)
	x.run("send-keys", "-t", "top", "q")
	if code := exitCode(t, dir2); code != "3" {
		t.Errorf("--fail-on any: exit %s", code)
	}
	if regexp.MustCompile(`\x1b\[[0-9;]*(3[0-7]|7)m`).MatchString(plain) {
		t.Errorf("colour or reverse video with NO_COLOR:\n%q", plain)
	}
	if _, stderr, code := runCmd(t, "-r", topSample, "-w", mainPcap, "--format", "json"); code != exitOK {
		t.Fatalf("main command: exit %d\n%s", code, stderr)
	}
	a, errA := os.ReadFile(topPcap)
	b, errB := os.ReadFile(mainPcap)
	if errA != nil || errB != nil || len(a) < 100 || !bytes.Equal(a, b) {
		t.Errorf("-w: top wrote %d bytes (%v), the main command %d (%v)", len(a), errA, len(b), errB)
	}
}

// TestTopLive captures on lo under the view while real TLS handshakes
// happen (crypto/tls clients; the Cloudflare-like edge refusing SNI-less
// hellos; a server with SNI answering): the refused upstream comes on top
// with its finding, the header counts the kernel's drops, /metrics counts
// the handshakes as for the main command, and q stops the capture at once.
func TestTopLive(t *testing.T) {
	sidecarNeedRoot(t)
	x := newTmux(t)
	bin := testkit.Build(t, "./cmd/hellowatch", false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const goodName, edgeName = "good.top.test", "edge.top.test"
	good := tlsServer(t, ctx, goodName)
	edgeLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = edge.Serve(ctx, edgeLn, edge.Config{Mode: edge.ModeCloudflare, Names: []string{edgeName}}) }()
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := mln.Addr().String()
	mln.Close()

	dir := t.TempDir()
	x.start(dir, fmt.Sprintf("%s top -i lo --metrics-addr %s \"tcp and (port %d or port %d)\"", bin, metricsAddr, portOf(t, good), portOf(t, edgeLn)))
	x.waitFor("-i lo: live")
	for range 3 {
		refusedHandshake(t, edgeLn.Addr().String())
	}
	for range 2 {
		goodHandshake(t, good.Addr().String(), goodName, 0)
	}
	// One line or two per row, by the width the names need. (Not checked:
	// whether the good handshakes are failures. A Go client's handshake
	// on lo is now and then judged closed_after_handshake, by the main
	// command too.)
	edgeRow := regexp.MustCompile(`(?m)^> 127\.0\.0\.1:` + strconv.Itoa(portOf(t, edgeLn)) + ` +\(no SNI\)`)
	screen := x.wait("the refused upstream on top", func(s string) bool {
		return edgeRow.MatchString(s) && strings.Contains(s, "missing_sni 3") && strings.Contains(s, `"`+goodName+`"`)
	})
	if strings.Index(screen, "missing_sni 3") > strings.Index(screen, `"`+goodName+`"`) {
		t.Errorf("the refused upstream is not above the working one:\n%s", screen)
	}
	if !regexp.MustCompile(`kernel drops \d+ · flows tracked \d+`).MatchString(screen) || !strings.Contains(screen, "5 handshakes, ") {
		t.Errorf("header:\n%s", screen)
	}
	if v, _ := metrics.Value(metrics.Scrape(t, "http://"+metricsAddr), "hellowatch_handshakes_total", nil); v != 5 {
		t.Errorf("hellowatch_handshakes_total = %v, want 5", v)
	}
	x.run("send-keys", "-t", "top", "Enter")
	x.waitFor("fix: nginx: add `proxy_ssl_server_name on;`")
	quit := time.Now()
	x.run("send-keys", "-t", "top", "q")
	if code := exitCode(t, dir); code != "0" {
		t.Errorf("q: exit %s", code)
	}
	if d := time.Since(quit); d > 2*time.Second {
		t.Errorf("q took %v to end the live capture", d)
	}
	stderr, _ := os.ReadFile(filepath.Join(dir, "stderr"))
	if !strings.Contains(string(stderr), "== hellowatch summary: 5 handshakes, 2 established, 3 failed, 0 incomplete") ||
		!strings.Contains(string(stderr), "missing_sni=3") {
		t.Errorf("end summary:\n%s", stderr)
	}
}
