package errlog

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hellowatch/hellowatch/internal/edge"
	"github.com/hellowatch/hellowatch/internal/nginxtest"
	"github.com/hellowatch/hellowatch/internal/testkit"
	"github.com/hellowatch/hellowatch/tlsparse"
)

// nginxTZ is the zone real nginx is run in: an offset nobody's machine
// has by accident, so that a parser ignoring the zone fails.
var nginxTZ = time.FixedZone("+0530", 5*3600+30*60)

// failCase is one way an upstream fails, the path that reaches it through
// nginx, and what the parsed line must say.
type failCase struct {
	path      string
	kind      Kind
	alert     int // -1: none
	handshake bool
	scheme    string
	addr      func() string
	status    int
}

// TestRealNginxErrorLog runs real nginx as a proxy in front of upstreams
// that fail in every way the package knows, sends one request through each,
// and parses nginx's own error log. With -update the log is kept in
// testdata/ as a fixture (TestFixtures reads it).
func TestRealNginxErrorLog(t *testing.T) {
	nginxtest.Binary(t)
	stream, hasStream := nginxtest.StreamModuleLine(t)
	if !hasStream {
		t.Log("nginx has no stream module (apt-get install libnginx-mod-stream): the stream proxy_ssl case is left out")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	edgeAt := func(host string, mode edge.Mode) string {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Skipf("skipped: listen on %s: %v", host, err)
		}
		go edge.Serve(ctx, ln, edge.Config{Mode: mode, Names: []string{"abc.example.com"}, DrainTimeout: 500 * time.Millisecond})
		return ln.Addr().String()
	}
	alert40 := edgeAt("127.0.0.1", edge.ModeCloudflare)
	rst := edgeAt("127.0.0.1", edge.ModeRST)
	fin := edgeAt("127.0.0.1", edge.ModeFIN)
	silent := edgeAt("127.0.0.1", edge.ModeSilent)
	v6 := ""
	if ln, err := net.Listen("tcp", "[::1]:0"); err == nil {
		ln.Close()
		v6 = edgeAt("::1", edge.ModeCloudflare)
	}
	certFile, keyFile, cert := nginxtest.CertFiles(t, dir, "abc", "abc.example.com")
	otherCert, _, _ := nginxtest.CertFiles(t, dir, "other", "other.example.com")
	verify := nginxtest.StartSNIServer(t, "127.0.0.1:0", cert)
	tls13 := goTLS(t, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13})
	certReq := goTLS(t, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13, ClientAuth: tls.RequireAnyClientCert})
	plain := nginxtest.FreeAddr(t, "127.0.0.1")
	reject := nginxtest.FreeAddr(t, "127.0.0.1")
	proxy := nginxtest.FreeAddr(t, "127.0.0.1")
	streamAddr := nginxtest.FreeAddr(t, "127.0.0.1")

	loc := func(path, body string) string {
		return fmt.Sprintf("        location = %s {\n            %s\n        }\n", path, body)
	}
	var locs strings.Builder
	locs.WriteString(loc("/alert40", "proxy_pass https://"+alert40+";"))
	locs.WriteString(loc("/rst", "proxy_pass https://"+rst+";"))
	locs.WriteString(loc("/fin", "proxy_pass https://"+fin+";"))
	locs.WriteString(loc("/silent", "proxy_connect_timeout 1s; proxy_pass https://"+silent+";"))
	locs.WriteString(loc("/plain", "proxy_pass https://"+plain+";"))
	locs.WriteString(loc("/reject", "proxy_ssl_server_name on; proxy_ssl_name nobody.example.com; proxy_pass https://"+reject+";"))
	locs.WriteString(loc("/untrusted", "proxy_ssl_verify on; proxy_ssl_trusted_certificate "+otherCert+"; proxy_pass https://"+verify.Addr+";"))
	locs.WriteString(loc("/mismatch", "proxy_ssl_verify on; proxy_ssl_trusted_certificate "+certFile+"; proxy_ssl_server_name on; proxy_ssl_name other.example.com; proxy_pass https://"+verify.Addr+";"))
	locs.WriteString(loc("/version", "proxy_ssl_protocols TLSv1.2; proxy_pass https://"+tls13+";"))
	locs.WriteString(loc("/certreq", "proxy_ssl_protocols TLSv1.2 TLSv1.3; proxy_pass https://"+certReq+";"))
	locs.WriteString(loc("/grpc", "grpc_pass grpcs://"+alert40+";"))
	if v6 != "" {
		locs.WriteString(loc("/v6", "proxy_pass https://"+v6+";"))
	}
	httpBody := fmt.Sprintf(`    server {
        listen %s;
        proxy_ssl_session_reuse off;
%s    }
    server {
        listen %s;
        location / { return 200 "plain\n"; }
    }
    server {
        listen %s ssl default_server;
        ssl_reject_handshake on;
    }
    server {
        listen %[4]s ssl;
        server_name abc.example.com;
        ssl_certificate %[5]s;
        ssl_certificate_key %[6]s;
    }
`, proxy, locs.String(), plain, reject, certFile, keyFile)
	conf := nginxtest.Main(dir, stream, httpBody)
	listens := []string{proxy, plain, reject}
	if hasStream {
		conf += fmt.Sprintf(`stream {
    server {
        listen %s;
        proxy_ssl on;
        proxy_ssl_session_reuse off;
        proxy_pass %s;
    }
}
`, streamAddr, alert40)
		listens = append(listens, streamAddr)
	}
	n := nginxtest.New(t, dir, conf)
	// nginx keeps TZ from its environment: it logs in that zone.
	t.Setenv("TZ", "<+0530>-05:30")
	n.Start(t, listens...)

	cases := []failCase{
		{path: "/alert40", kind: KindAlert, alert: 40, handshake: true, scheme: "https", addr: func() string { return alert40 }, status: 502},
		{path: "/rst", kind: KindPeerReset, alert: -1, handshake: true, scheme: "https", addr: func() string { return rst }, status: 502},
		{path: "/fin", kind: KindPeerClosed, alert: -1, handshake: true, scheme: "https", addr: func() string { return fin }, status: 502},
		{path: "/silent", kind: KindTimeout, alert: -1, handshake: true, scheme: "https", addr: func() string { return silent }, status: 504},
		{path: "/plain", kind: KindWrongVersion, alert: -1, handshake: true, scheme: "https", addr: func() string { return plain }, status: 502},
		{path: "/reject", kind: KindAlert, alert: 112, handshake: true, scheme: "https", addr: func() string { return reject }, status: 502},
		{path: "/untrusted", kind: KindVerifyError, alert: -1, handshake: true, scheme: "https", addr: func() string { return verify.Addr }, status: 502},
		{path: "/mismatch", kind: KindNameMismatch, alert: -1, handshake: true, scheme: "https", addr: func() string { return verify.Addr }, status: 502},
		{path: "/version", kind: KindAlert, alert: 70, handshake: true, scheme: "https", addr: func() string { return tls13 }, status: 502},
		{path: "/certreq", kind: KindAlert, alert: 116, handshake: false, scheme: "https", addr: func() string { return certReq }, status: 502},
		{path: "/grpc", kind: KindAlert, alert: 40, handshake: true, scheme: "grpcs", addr: func() string { return alert40 }, status: 502},
	}
	if v6 != "" {
		cases = append(cases, failCase{path: "/v6", kind: KindAlert, alert: 40, handshake: true, scheme: "https", addr: func() string { return v6 }, status: 502})
	}

	client := &http.Client{Timeout: 10 * time.Second}
	start := time.Now()
	for _, c := range cases {
		resp, err := client.Get("http://" + proxy + c.path)
		if err != nil {
			t.Fatalf("GET %s: %v", c.path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("GET %s through nginx: status %d, want %d", c.path, resp.StatusCode, c.status)
		}
	}
	// The stream proxy: a plain connection relayed over TLS to the edge.
	if hasStream {
		conn, err := net.DialTimeout("tcp", streamAddr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		conn.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
		io.Copy(io.Discard, conn)
		conn.Close()
	}
	want := len(cases)
	if hasStream {
		want++
	}
	end := time.Now()
	// nginx writes the stream session's line when the session ends.
	deadline := time.Now().Add(5 * time.Second)
	var entries []Entry
	var stats Stats
	for {
		f, err := os.Open(n.ErrorLog)
		if err != nil {
			t.Fatal(err)
		}
		sc := NewScanner(f, n.ErrorLog, nginxTZ, 0)
		entries = entries[:0]
		for sc.Scan() {
			entries = append(entries, sc.Entry())
		}
		stats = sc.Stats()
		f.Close()
		if len(entries) >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	logText := n.Log(t)
	if stats.Malformed != 0 || stats.TooLong != 0 {
		t.Errorf("nginx's own log: %d malformed, %d too long lines; want 0:\n%s", stats.Malformed, stats.TooLong, logText)
	}
	if stats.NotTLS == 0 {
		t.Errorf("no line counted as not about upstream TLS (startup notices, downstream handshakes): %+v", stats)
	}
	used := make([]bool, len(entries))
	// check finds the entries for one case; all of them when all is set
	// (the stream proxy logs one per session, and waiting for its port to
	// listen made one too).
	check := func(name string, kind Kind, alert int, handshake bool, scheme, addr string, all bool) {
		t.Helper()
		want := netip.MustParseAddrPort(addr)
		found := false
		for i, e := range entries {
			if used[i] || e.UpstreamAddr != want || e.Scheme != scheme || e.Kind != kind {
				continue
			}
			used[i] = true
			if alert >= 0 && (!e.HasAlert || e.Alert != tlsparse.AlertDescription(alert)) {
				t.Errorf("%s: alert %v (has %v), want %d: %s", name, e.Alert, e.HasAlert, alert, e.Raw)
			}
			if e.Handshake != handshake {
				t.Errorf("%s: Handshake %v, want %v (action %q)", name, e.Handshake, handshake, e.Action)
			}
			if e.Time.Before(start.Truncate(time.Second).Add(-time.Second)) || e.Time.After(end.Add(2*time.Second)) {
				t.Errorf("%s: time %v outside the run %v..%v (zone not applied?)", name, e.Time, start, end)
			}
			if !e.HasConn || e.PID == 0 || e.Line == 0 || e.File != n.ErrorLog {
				t.Errorf("%s: conn %d/%v pid %d line %d file %q", name, e.Conn, e.HasConn, e.PID, e.Line, e.File)
			}
			if e.Client != netip.MustParseAddr("127.0.0.1") {
				t.Errorf("%s: client %v", name, e.Client)
			}
			found = true
			if !all {
				return
			}
		}
		if found {
			return
		}
		t.Errorf("%s: no %v line for %s://%s in nginx's error log:\n%s", name, kind, scheme, addr, logText)
	}
	for _, c := range cases {
		check(c.path, c.kind, c.alert, c.handshake, c.scheme, c.addr(), false)
	}
	if hasStream {
		check("stream", KindAlert, 40, true, "", alert40, true)
	}
	for i, e := range entries {
		if !used[i] {
			t.Errorf("unexpected entry %v at line %d: %s", e.Kind, e.Line, e.Raw)
		}
	}
	if t.Failed() {
		t.Logf("nginx error log:\n%s", logText)
	}
	if testkit.Updating() && !t.Failed() && hasStream {
		writeFixture(t, n.Bin, logText)
	}
}

// writeFixture keeps the log under testdata, named by nginx's and
// OpenSSL's versions, without the lines that name this machine.
func writeFixture(t *testing.T, bin, log string) {
	out, _ := exec.Command(bin, "-V").CombinedOutput()
	nv := regexp.MustCompile(`nginx/([0-9.]+)`).FindSubmatch(out)
	ov := regexp.MustCompile(`built with OpenSSL ([0-9.]+)`).FindSubmatch(out)
	if nv == nil || ov == nil {
		t.Fatalf("nginx -V: no versions in %q", out)
	}
	var keep []string
	for _, l := range strings.Split(strings.TrimRight(log, "\n"), "\n") {
		if strings.Contains(l, "] OS: ") || strings.Contains(l, "getrlimit") {
			continue
		}
		keep = append(keep, l)
	}
	name := filepath.Join("testdata", fmt.Sprintf("nginx-%s-openssl-%s.log", nv[1], ov[1]))
	if err := os.WriteFile(name, []byte(strings.Join(keep, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", name)
}

// goTLS serves TLS with cfg on a fresh loopback port until the test ends,
// answering HTTP requests with 200.
func goTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") }), ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}
