package main

// Sidecar tests (issue 6): Prometheus metrics and health endpoints during a
// live capture on lo with real TLS handshakes, configuration from the
// environment, and SIGTERM/SIGINT handling of a subprocess.
//
// The subprocess is this test binary itself: with sidecarAsMainEnv set, its
// init runs hellowatch's run() on the process's arguments and exits, exactly
// as main does, so no separate go build is needed.

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hellowatch/hellowatch/internal/edge"
	"github.com/hellowatch/hellowatch/internal/testkit/metrics"
)

// tlsServer serves TLS on 127.0.0.1:0 with a certificate for names: it reads
// one line from each client and answers "ok".
func tlsServer(t *testing.T, ctx context.Context, names ...string) net.Listener {
	t.Helper()
	cert, err := edge.SelfSigned(names)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := bufio.NewReader(c).ReadString('\n'); err == nil {
					_, _ = c.Write([]byte("ok\n"))
				}
			}()
		}
	}()
	return ln
}

// silentServer accepts TCP connections on 127.0.0.1:0 and never answers.
func silentServer(t *testing.T, ctx context.Context) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		<-ctx.Done()
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() { _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	return ln
}

// goodHandshake does a full TLS handshake with SNI and one request.
func goodHandshake(t *testing.T, addr, sni string, maxVersion uint16) {
	t.Helper()
	d := &net.Dialer{Timeout: 2 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: sni, InsecureSkipVerify: true, MaxVersion: maxVersion})
	if err != nil {
		t.Fatalf("TLS to %s (SNI %s): %v", addr, sni, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "ok\n" {
		t.Fatalf("answer from %s: %q, %v", addr, line, err)
	}
}

// refusedHandshake sends a ClientHello without SNI (Go sends none for an IP
// address) to the Cloudflare-like edge and expects its handshake_failure.
func refusedHandshake(t *testing.T, addr string) {
	t.Helper()
	d := &net.Dialer{Timeout: 2 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err == nil {
		c.Close()
		t.Fatalf("the edge at %s accepted a ClientHello without SNI", addr)
	}
	if !strings.Contains(err.Error(), "handshake failure") {
		t.Fatalf("edge at %s: %v, want a handshake_failure alert", addr, err)
	}
}

// pendingHandshake sends a ClientHello with SNI to a silent server and leaves
// the handshake open until ctx ends. It returns the client's address.
func pendingHandshake(t *testing.T, ctx context.Context, addr, sni string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		<-ctx.Done()
		c.Close()
	}()
	go func() { _ = tls.Client(c, &tls.Config{ServerName: sni}).HandshakeContext(ctx) }()
	return c.LocalAddr().String()
}

func portOf(t *testing.T, ln net.Listener) int {
	t.Helper()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestSidecarMetricsLive captures on lo while real TLS handshakes happen:
// good ones (crypto/tls with SNI, TLS 1.3 and 1.2) and SNI-less ones refused
// by the Cloudflare-like edge; then /metrics must count them under the
// right labels, agree with the JSON lines, and carry no SNI or address.
func TestSidecarMetricsLive(t *testing.T) {
	sidecarNeedRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	const goodName, edgeName, pendingName = "good.sidecar.test", "edge.sidecar.test", "pending.sidecar.test"
	good := tlsServer(t, ctx, goodName)
	edgeLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = edge.Serve(ctx, edgeLn, edge.Config{Mode: edge.ModeCloudflare, Names: []string{edgeName}}) }()
	silent := silentServer(t, ctx)
	ports := []int{portOf(t, good), portOf(t, edgeLn), portOf(t, silent)}
	filter := fmt.Sprintf("tcp and (port %d or port %d or port %d)", ports[0], ports[1], ports[2])

	p, base := startLive(t, filter, "--summary", "always")

	if code, body := metrics.Get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d %q, want 200", code, body)
	}
	if code, body := metrics.Get(t, base+"/readyz"); code != http.StatusOK || !strings.Contains(body, "ready") {
		t.Errorf("/readyz while capturing: %d %q, want 200", code, body)
	}
	before := metrics.Scrape(t, base)
	if v, _ := metrics.Value(before, "hellowatch_handshakes_total", nil); v != 0 {
		t.Errorf("hellowatch_handshakes_total = %v before any traffic, want 0", v)
	}
	if v, ok := metrics.Value(before, "hellowatch_findings_total", map[string]string{"finding": "missing_sni"}); !ok || v != 0 {
		t.Errorf("hellowatch_findings_total{finding=missing_sni} = %v (present %v) before any traffic, want a 0 series", v, ok)
	}

	const nGood13, nGood12, nRefused = 2, 1, 3
	for range nGood13 {
		goodHandshake(t, good.Addr().String(), goodName, 0)
	}
	for range nGood12 {
		goodHandshake(t, good.Addr().String(), goodName, tls.VersionTLS12)
	}
	for range nRefused {
		refusedHandshake(t, edgeLn.Addr().String())
	}
	pendingCtx, stopPending := context.WithCancel(ctx)
	defer stopPending()
	pendingClient := pendingHandshake(t, pendingCtx, silent.Addr().String(), pendingName)

	total := nGood13 + nGood12 + nRefused
	recs := waitRecords(t, p, total, 5*time.Second)
	if len(recs) != total {
		t.Fatalf("hellowatch printed %d JSON lines, want %d (one per finished handshake)\nstdout:\n%s\nstderr:\n%s",
			len(recs), total, p.Stdout.String(), p.Stderr.String())
	}
	// The pending hello is in the table once its packet has been counted.
	metrics.Wait(t, base, "hellowatch_flows_tracked", 1, 3*time.Second)
	mfs := metrics.Scrape(t, base)

	// What the JSON lines say, counted the way the metrics count.
	type hsKey struct{ outcome, version, sni string }
	fromJSON := map[hsKey]float64{}
	findings := map[string]float64{}
	alerts := map[[3]string]float64{}
	answered := 0.0
	for _, r := range recs {
		v, _ := r["version"].(string)
		if v == "" {
			v = "none"
		}
		sni := "absent"
		if r["server_name"] != nil {
			sni = "present"
		}
		fromJSON[hsKey{r["outcome"].(string), v, sni}]++
		for _, f := range r["findings"].([]any) {
			findings[f.(map[string]any)["id"].(string)]++
		}
		for _, a := range r["alerts"].([]any) {
			a := a.(map[string]any)
			lvl, desc := "encrypted", "encrypted"
			if a["encrypted"] != true {
				lvl, desc = a["level"].(string), a["description"].(string)
			}
			alerts[[3]string{a["sender"].(string), lvl, desc}]++
		}
		if tm, ok := r["timings"].(map[string]any); ok && tm["first_answer"] != nil {
			answered++
		}
	}

	// The counts the test itself caused, independent of hellowatch's output.
	want := map[hsKey]float64{
		{"established", "TLS 1.3", "present"}: nGood13,
		{"established", "TLS 1.2", "present"}: nGood12,
		{"server_alert", "none", "absent"}:    nRefused,
	}
	for k, n := range want {
		got, _ := metrics.Value(mfs, "hellowatch_handshakes_total", map[string]string{"outcome": k.outcome, "version": k.version, "sni": k.sni})
		if got != n {
			t.Errorf("hellowatch_handshakes_total{outcome=%q,version=%q,sni=%q} = %v, want %v", k.outcome, k.version, k.sni, got, n)
		}
	}
	if got, _ := metrics.Value(mfs, "hellowatch_handshakes_total", nil); got != float64(total) {
		t.Errorf("hellowatch_handshakes_total summed = %v, want %d", got, total)
	}
	for k, n := range fromJSON {
		got, _ := metrics.Value(mfs, "hellowatch_handshakes_total", map[string]string{"outcome": k.outcome, "version": k.version, "sni": k.sni})
		if got != n {
			t.Errorf("metrics and JSON disagree: handshakes %+v: metric %v, JSON lines %v", k, got, n)
		}
	}
	if got, _ := metrics.Value(mfs, "hellowatch_findings_total", map[string]string{"finding": "missing_sni"}); got != nRefused {
		t.Errorf("hellowatch_findings_total{finding=missing_sni} = %v, want %d", got, nRefused)
	}
	for id, n := range findings {
		if got, _ := metrics.Value(mfs, "hellowatch_findings_total", map[string]string{"finding": id}); got != n {
			t.Errorf("metrics and JSON disagree: finding %s: metric %v, JSON lines %v", id, got, n)
		}
	}
	if got, _ := metrics.Value(mfs, "hellowatch_findings_total", nil); got != sumValues(findings) {
		t.Errorf("hellowatch_findings_total summed = %v, JSON lines carry %v findings", got, sumValues(findings))
	}
	if got, _ := metrics.Value(mfs, "hellowatch_alerts_total", map[string]string{"sender": "server", "level": "fatal", "description": "handshake_failure"}); got != nRefused {
		t.Errorf("hellowatch_alerts_total{sender=server,level=fatal,description=handshake_failure} = %v, want %d", got, nRefused)
	}
	for k, n := range alerts {
		if got, _ := metrics.Value(mfs, "hellowatch_alerts_total", map[string]string{"sender": k[0], "level": k[1], "description": k[2]}); got != n {
			t.Errorf("metrics and JSON disagree: alerts %v: metric %v, JSON lines %v", k, got, n)
		}
	}
	if got, _ := metrics.Value(mfs, "hellowatch_answer_seconds", nil); got != answered {
		t.Errorf("hellowatch_answer_seconds count = %v, want %v (handshakes with a first answer)", got, answered)
	}

	// Capture statistics: every handshake is at least SYN, SYN-ACK, ACK,
	// ClientHello and an answer; lo adds a 14-byte header to 40 bytes of
	// IPv4+TCP.
	minPackets := float64(5*total + 4)
	pk, _ := metrics.Value(mfs, "hellowatch_packets_total", nil)
	by, _ := metrics.Value(mfs, "hellowatch_bytes_total", nil)
	kr, _ := metrics.Value(mfs, "hellowatch_kernel_received_packets_total", nil)
	if pk < minPackets {
		t.Errorf("hellowatch_packets_total = %v, want >= %v", pk, minPackets)
	}
	if by < 54*pk {
		t.Errorf("hellowatch_bytes_total = %v for %v packets, want >= 54 bytes each", by, pk)
	}
	if kr < pk {
		t.Errorf("hellowatch_kernel_received_packets_total = %v < packets read %v", kr, pk)
	}
	if _, ok := metrics.Value(mfs, "hellowatch_kernel_dropped_packets_total", nil); !ok {
		t.Errorf("hellowatch_kernel_dropped_packets_total missing")
	}
	if v, ok := metrics.Value(mfs, "hellowatch_flows_tracked", nil); !ok || v < 1 {
		t.Errorf("hellowatch_flows_tracked = %v (present %v), want >= 1 with a handshake in progress", v, ok)
	}
	if _, ok := metrics.Value(mfs, "hellowatch_reassembly_buffered_bytes", nil); !ok {
		t.Errorf("hellowatch_reassembly_buffered_bytes missing")
	}
	bi := mfs["hellowatch_build_info"]
	if bi == nil || len(bi.GetMetric()) != 1 || bi.GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Errorf("hellowatch_build_info: %v, want one series of value 1", bi)
	} else {
		labels := map[string]string{}
		for _, lp := range bi.GetMetric()[0].GetLabel() {
			labels[lp.GetName()] = lp.GetValue()
		}
		if labels["goversion"] != runtime.Version() || labels["version"] != getVersion() {
			t.Errorf("hellowatch_build_info labels %v, want version=%q goversion=%q", labels, getVersion(), runtime.Version())
		}
	}

	// Labels come from closed sets: no SNI, address, port or fingerprint.
	secrets := []string{goodName, edgeName, pendingName, "127.0.0.1", "sidecar.test"}
	for _, port := range ports {
		secrets = append(secrets, strconv.Itoa(port))
	}
	for _, r := range recs {
		for _, k := range []string{"ja3", "ja4", "client"} {
			if s, ok := r[k].(string); ok {
				secrets = append(secrets, s)
			}
		}
	}
	for name, mf := range mfs {
		if !strings.HasPrefix(name, "hellowatch_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				v := lp.GetValue()
				if net.ParseIP(v) != nil {
					t.Errorf("%s label %s=%q is an IP address", name, lp.GetName(), v)
				}
				for _, s := range secrets {
					if strings.Contains(v, s) && !(lp.GetName() == "goversion" || lp.GetName() == "le") {
						t.Errorf("%s label %s=%q carries %q from the traffic", name, lp.GetName(), v, s)
					}
				}
			}
		}
	}

	// SIGTERM: the pending handshake is flushed as incomplete, the summary
	// goes to stderr, exit 0 within 2 s.
	sent := time.Now()
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, ok := p.Exited(2 * time.Second)
	if !ok {
		t.Fatalf("hellowatch still running 2 s after SIGTERM\nstderr:\n%s", p.Stderr.String())
	}
	if code != exitOK {
		t.Errorf("exit %d after SIGTERM, want 0\nstderr:\n%s", code, p.Stderr.String())
	}
	t.Logf("exited %v after SIGTERM", p.ExitedAt().Sub(sent).Round(time.Millisecond))
	recs = records(t, p)
	if len(recs) != total+1 || recs[total]["outcome"] != "incomplete" || recs[total]["client"] != pendingClient {
		t.Errorf("after SIGTERM: %d lines, last %v; want %d, the last the pending handshake from %s as incomplete",
			len(recs), recs[len(recs)-1], total+1, pendingClient)
	}
	if !strings.Contains(p.Stderr.String(), fmt.Sprintf("== hellowatch summary: %d handshakes", total+1)) {
		t.Errorf("no summary of %d handshakes on stderr:\n%s", total+1, p.Stderr.String())
	}
}

func sumValues(m map[string]float64) float64 {
	var s float64
	for _, v := range m {
		s += v
	}
	return s
}

// TestSidecarSignals: with a ClientHello sent and the server silent, SIGTERM
// or SIGINT makes hellowatch report the open flow as incomplete (JSON on
// stdout), print the summary on stderr and exit 0 within 2 s.
func TestSidecarSignals(t *testing.T) {
	sidecarNeedRoot(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			silent := silentServer(t, ctx)
			p, base := startLive(t, fmt.Sprintf("tcp port %d", portOf(t, silent)), "--timeout", "60s")
			const sni = "signal.sidecar.test"
			client := pendingHandshake(t, ctx, silent.Addr().String(), sni)
			// SYN, SYN-ACK, ACK, ClientHello: wait until all four are read.
			if n := metrics.Wait(t, base, "hellowatch_packets_total", 4, 3*time.Second); n < 4 {
				t.Fatalf("hellowatch read %v packets of the pending handshake, want 4", n)
			}
			if recs := records(t, p); len(recs) != 0 {
				t.Fatalf("a line before the signal: %v", recs)
			}
			sent := time.Now()
			if err := p.Cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			code, ok := p.Exited(2 * time.Second)
			if !ok {
				t.Fatalf("hellowatch still running 2 s after %v\nstderr:\n%s", sig, p.Stderr.String())
			}
			t.Logf("exit %d, %v after %v", code, p.ExitedAt().Sub(sent).Round(time.Millisecond), sig)
			if code != exitOK {
				t.Errorf("exit %d after %v, want 0\nstderr:\n%s", code, sig, p.Stderr.String())
			}
			recs := records(t, p)
			if len(recs) != 1 {
				t.Fatalf("%d JSON lines after %v, want the one open flow\nstdout:\n%s", len(recs), sig, p.Stdout.String())
			}
			r := recs[0]
			if r["outcome"] != "incomplete" || r["established"] != false || r["server_name"] != sni ||
				r["client"] != client || r["server"] != silent.Addr().String() {
				t.Errorf("flushed flow: outcome %v established %v server_name %v client %v server %v; want incomplete, false, %q, %s, %s",
					r["outcome"], r["established"], r["server_name"], r["client"], r["server"], sni, client, silent.Addr())
			}
			errOut := p.Stderr.String()
			for _, want := range []string{
				`"msg":"stopping"`,
				"== hellowatch summary: 1 handshakes, 0 established, 0 failed, 1 incomplete",
				"outcomes: incomplete 1",
			} {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut)
				}
			}
		})
	}
}

func sample(name string) string { return filepath.Join("..", "..", "samples", name) }

// jsonLines returns the outcomes of the JSON lines in out, or nil when out
// is not JSON lines.
func jsonOutcomes(out string) []string {
	var oc []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var m struct{ Outcome string }
		if json.Unmarshal([]byte(l), &m) != nil {
			return nil
		}
		oc = append(oc, m.Outcome)
	}
	return oc
}

// TestSidecarEnv: every flag can come from HELLOWATCH_<NAME> (and the
// aliases of tcpdump's letters); a command-line flag wins over the
// environment; a bad value exits 2 naming the variable.
func TestSidecarEnv(t *testing.T) {
	mixed := sample("pcapng-mixed.pcapng") // 2 established, 2 missing_sni server_alert, port 8443
	incident := sample("incident-missing-sni.pcap")
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		check    func(t *testing.T, stdout, stderr string)
	}{
		{"READ", map[string]string{"HELLOWATCH_READ": mixed, "HELLOWATCH_FORMAT": "json"}, nil, 0,
			wantLines(4)},
		{"READ_several", map[string]string{"HELLOWATCH_READ": mixed + "," + incident, "HELLOWATCH_FORMAT": "json"}, nil, 0,
			wantLines(6)},
		{"READ_flag_wins", map[string]string{"HELLOWATCH_READ": mixed, "HELLOWATCH_FORMAT": "json"}, []string{"-r", incident}, 0,
			wantLines(2)},
		{"INTERFACE_but_r_on_command_line", map[string]string{"HELLOWATCH_INTERFACE": "nosuch0", "HELLOWATCH_FORMAT": "json"}, []string{"-r", incident}, 0,
			wantLines(2)},
		{"READ_but_i_on_command_line", map[string]string{"HELLOWATCH_READ": incident}, []string{"-i", "nosuch0"}, 1,
			wantStderr("capture: nosuch0: ")},
		{"FORMAT_json", map[string]string{"HELLOWATCH_FORMAT": "json"}, []string{"-r", incident}, 0,
			wantLines(2)},
		{"FORMAT_text", map[string]string{"HELLOWATCH_FORMAT": "text"}, []string{"-r", incident}, 0,
			wantStdout("(no SNI) TLS 1.2 → - server_alert")},
		{"FORMAT_flag_wins", map[string]string{"HELLOWATCH_FORMAT": "text"}, []string{"-r", incident, "--format", "json"}, 0,
			wantLines(2)},
		{"FAILURES", map[string]string{"HELLOWATCH_FAILURES": "true", "HELLOWATCH_FORMAT": "json"}, []string{"-r", mixed}, 0,
			wantOutcomes("server_alert", "server_alert")},
		{"FAILURES_flag_wins", map[string]string{"HELLOWATCH_FAILURES": "true", "HELLOWATCH_FORMAT": "json"}, []string{"-r", mixed, "--failures=false"}, 0,
			wantLines(4)},
		{"FILTER", map[string]string{"HELLOWATCH_FILTER": "port 1", "HELLOWATCH_FORMAT": "json"}, []string{"-r", mixed}, 0,
			wantLines(0)},
		{"FILTER_flag_wins", map[string]string{"HELLOWATCH_FILTER": "port 1", "HELLOWATCH_FORMAT": "json"}, []string{"-r", mixed, "--filter", "port 8443"}, 0,
			wantLines(4)},
		{"FILTER_trailing_words_win", map[string]string{"HELLOWATCH_FILTER": "port 1", "HELLOWATCH_FORMAT": "json"}, []string{"-r", mixed, "port", "8443"}, 0,
			wantLines(4)},
		{"COUNT", map[string]string{"HELLOWATCH_COUNT": "1", "HELLOWATCH_FORMAT": "json"}, []string{"-r", mixed}, 0,
			wantLines(1)},
		{"COUNT_flag_wins", map[string]string{"HELLOWATCH_COUNT": "1", "HELLOWATCH_FORMAT": "json"}, []string{"-r", mixed, "-c", "3"}, 0,
			wantLines(3)},
		{"FAIL_ON", map[string]string{"HELLOWATCH_FAIL_ON": "missing_sni", "HELLOWATCH_FORMAT": "json"}, []string{"-r", incident}, 3,
			wantLines(2)},
		{"FAIL_ON_flag_wins", map[string]string{"HELLOWATCH_FAIL_ON": "missing_sni", "HELLOWATCH_FORMAT": "json"}, []string{"-r", incident, "--fail-on", "no_response"}, 0,
			wantLines(2)},
		{"SUMMARY_always", map[string]string{"HELLOWATCH_SUMMARY": "always", "HELLOWATCH_FORMAT": "json"}, []string{"-r", incident}, 0,
			wantStderr("== hellowatch summary: 2 handshakes")},
		{"SUMMARY_flag_wins", map[string]string{"HELLOWATCH_SUMMARY": "always", "HELLOWATCH_FORMAT": "json"}, []string{"-r", incident, "--summary", "never"}, 0,
			func(t *testing.T, _, stderr string) {
				if strings.Contains(stderr, "summary") {
					t.Errorf("summary printed with --summary never:\n%s", stderr)
				}
			}},
		{"WRITE", map[string]string{"HELLOWATCH_WRITE": "WRITE_PATH", "HELLOWATCH_FORMAT": "json"}, []string{"-r", incident}, 0,
			wantLines(2)},
		{"VERSION", map[string]string{"HELLOWATCH_VERSION": "true"}, nil, 0,
			wantStdout("hellowatch " + getVersion())},
		{"LOG_LEVEL_debug", map[string]string{"HELLOWATCH_LOG_LEVEL": "debug", "HELLOWATCH_LOG_FORMAT": "json", "HELLOWATCH_FORMAT": "json"},
			[]string{"-r", incident, "--metrics-addr", "127.0.0.1:0"}, 0, wantStderr(`"msg":"serving metrics"`)},
		{"LOG_LEVEL_error_hides_info", map[string]string{"HELLOWATCH_LOG_LEVEL": "error", "HELLOWATCH_FORMAT": "json"},
			[]string{"-r", incident, "--metrics-addr", "127.0.0.1:0"}, 0, func(t *testing.T, _, stderr string) {
				if strings.Contains(stderr, "serving metrics") {
					t.Errorf("info log with HELLOWATCH_LOG_LEVEL=error:\n%s", stderr)
				}
			}},
		// Bad values: exit 2, the message names the variable.
		{"bad_COUNT", map[string]string{"HELLOWATCH_COUNT": "many"}, []string{"-r", incident}, 2,
			wantStderr("HELLOWATCH_COUNT")},
		{"bad_TIMEOUT", map[string]string{"HELLOWATCH_TIMEOUT": "soon"}, []string{"-r", incident}, 2,
			wantStderr("HELLOWATCH_TIMEOUT")},
		{"bad_FAILURES", map[string]string{"HELLOWATCH_FAILURES": "maybe"}, []string{"-r", incident}, 2,
			wantStderr("HELLOWATCH_FAILURES")},
		{"bad_FORMAT", map[string]string{"HELLOWATCH_FORMAT": "xml"}, []string{"-r", incident}, 2,
			wantStderr("HELLOWATCH_FORMAT")},
		{"bad_FAIL_ON", map[string]string{"HELLOWATCH_FAIL_ON": "everything"}, []string{"-r", incident}, 2,
			wantStderr("HELLOWATCH_FAIL_ON")},
		{"bad_SUMMARY", map[string]string{"HELLOWATCH_SUMMARY": "sometimes"}, []string{"-r", incident}, 2,
			wantStderr("HELLOWATCH_SUMMARY")},
		{"bad_COLOR", map[string]string{"HELLOWATCH_COLOR": "purple"}, []string{"-r", incident}, 2,
			wantStderr("HELLOWATCH_COLOR")},
		{"bad_LOG_LEVEL", map[string]string{"HELLOWATCH_LOG_LEVEL": "loud"}, []string{"-r", incident}, 2,
			wantStderr("HELLOWATCH_LOG_LEVEL")},
		{"bad_LOG_FORMAT", map[string]string{"HELLOWATCH_LOG_FORMAT": "xml"}, []string{"-r", incident}, 2,
			wantStderr("HELLOWATCH_LOG_FORMAT")},
		{"bad_SNAPLEN", map[string]string{"HELLOWATCH_SNAPLEN": "big"}, []string{"-r", incident}, 2,
			wantStderr("HELLOWATCH_SNAPLEN")},
		{"bad_value_ignored_when_flag_given", map[string]string{"HELLOWATCH_COUNT": "many", "HELLOWATCH_FORMAT": "json"}, []string{"-r", incident, "-c", "1"}, 0,
			wantLines(1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			path := filepath.Join(t.TempDir(), "failed.pcapng")
			for k, v := range tc.env {
				env[k] = strings.ReplaceAll(v, "WRITE_PATH", path)
			}
			stdout, stderr, code := envRun(t, env, tc.args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, stdout, stderr)
			}
			if tc.check != nil {
				tc.check(t, strings.ReplaceAll(stdout, path, "WRITE_PATH"), stderr)
			}
			if strings.Contains(tc.name, "WRITE") {
				if st, err := os.Stat(path); err != nil || st.Size() == 0 {
					t.Errorf("HELLOWATCH_WRITE: %s not written (%v)", path, err)
				}
			}
		})
	}
}

func wantLines(n int) func(t *testing.T, stdout, stderr string) {
	return func(t *testing.T, stdout, stderr string) {
		t.Helper()
		oc := jsonOutcomes(stdout)
		if len(oc) != n || (n > 0 && oc == nil) {
			t.Errorf("%d JSON lines, want %d\nstdout:\n%s\nstderr:\n%s", len(oc), n, stdout, stderr)
		}
	}
}

func wantOutcomes(want ...string) func(t *testing.T, stdout, stderr string) {
	return func(t *testing.T, stdout, _ string) {
		t.Helper()
		if got := jsonOutcomes(stdout); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("outcomes %v, want %v", got, want)
		}
	}
}

func wantStdout(sub string) func(t *testing.T, stdout, stderr string) {
	return func(t *testing.T, stdout, _ string) {
		t.Helper()
		if !strings.Contains(stdout, sub) {
			t.Errorf("stdout lacks %q:\n%s", sub, stdout)
		}
	}
}

func wantStderr(sub string) func(t *testing.T, stdout, stderr string) {
	return func(t *testing.T, _, stderr string) {
		t.Helper()
		if !strings.Contains(stderr, sub) {
			t.Errorf("stderr lacks %q:\n%s", sub, stderr)
		}
	}
}
