// Package e2e runs the headline incident end to end, live: real nginx as a
// reverse proxy without `proxy_ssl_server_name on;`, an SNI-strict upstream
// (the Cloudflare-like edge of internal/edge, HAProxy strict-sni, nginx
// ssl_reject_handshake), and the hellowatch binary capturing on lo.
//
// It needs root (live capture) and nginx; it skips, saying why, otherwise.
package e2e

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hellowatch/hellowatch/internal/edge"
	"github.com/hellowatch/hellowatch/internal/testkit"
)

const (
	sniName = "abc.example.com"
	// maxReportDelay is how long after the alert packet hellowatch may take
	// to print the handshake's line.
	maxReportDelay = time.Second
	// requests sent through the broken proxy per variant.
	failingRequests = 2
)

// env is what every variant shares.
type env struct {
	dir               string
	nginx, hellowatch string
	cert, key, pem    string
	backend           map[string]string // loopback host -> TLS backend address for abc.example.com
}

// variant is one SNI-strict upstream.
type variant struct {
	name     string
	host     string // "127.0.0.1" or "::1"
	needs    string // an executable the variant needs, skipped when absent
	wantCode int    // the server's fatal alert
	wantDesc string // its description
	wantLog  string // what nginx's error log says about it
	// start starts the upstream on addr; it returns the refusal times it
	// knows of itself (the in-process edge), keyed by client port, or nil.
	start func(t *testing.T, ctx context.Context, e *env, addr string) func() map[int]time.Time
}

func TestIncident(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("e2e: skipped: needs root to capture live on lo (run go test ./e2e/ as root)")
	}
	nginxBin, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("e2e: skipped: nginx is not installed (apt-get install nginx): ", err)
	}
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	e := &env{dir: t.TempDir(), nginx: nginxBin, backend: map[string]string{}}
	e.hellowatch = buildHellowatch(t)
	e.cert, e.key, e.pem = writeCert(t, e.dir)

	hosts := []string{"127.0.0.1"}
	if ln, err := net.Listen("tcp", "[::1]:0"); err == nil {
		ln.Close()
		hosts = append(hosts, "::1")
	} else {
		t.Logf("e2e: no IPv6 loopback (%v): the IPv6 variant will be skipped", err)
	}

	// The real TLS backend the edge relays SNI'd hellos to.
	var servers []string
	var listens []string
	for _, h := range hosts {
		a := net.JoinHostPort(h, strconv.Itoa(freePort(t, h)))
		e.backend[h] = a
		listens = append(listens, a)
		servers = append(servers, tlsServer(a, e.cert, e.key, ""))
	}
	startNginx(t, ctx, nginxBin, filepath.Join(e.dir, "backend"), strings.Join(servers, "\n"), listens...)

	variants := []variant{
		{name: "cloudflare-edge-ipv4", host: "127.0.0.1", wantCode: 40, wantDesc: "handshake_failure",
			wantLog: "alert handshake failure", start: startEdge},
		{name: "cloudflare-edge-ipv6", host: "::1", wantCode: 40, wantDesc: "handshake_failure",
			wantLog: "alert handshake failure", start: startEdge},
		{name: "haproxy-strict-sni", host: "127.0.0.1", needs: "haproxy", wantCode: 112, wantDesc: "unrecognized_name",
			wantLog: "unrecognized name", start: startHAProxy},
		{name: "nginx-ssl-reject-handshake", host: "127.0.0.1", wantCode: 112, wantDesc: "unrecognized_name",
			wantLog: "unrecognized name", start: startRejectingNginx},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			if !slices.Contains(hosts, v.host) {
				t.Skipf("e2e: skipped: no %s loopback", v.host)
			}
			if v.needs != "" {
				if _, err := exec.LookPath(v.needs); err != nil {
					t.Skipf("e2e: skipped: %s is not installed", v.needs)
				}
			}
			if ctx.Err() != nil {
				t.Fatalf("e2e: out of time (60 s budget) before this variant")
			}
			runVariant(t, ctx, e, v)
		})
	}
	t.Logf("e2e: total %v (budget 60 s)", time.Since(began).Round(time.Millisecond))
}

func runVariant(t *testing.T, ctx context.Context, e *env, v variant) {
	dir := filepath.Join(e.dir, v.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	upPort := freePort(t, v.host)
	upstream := net.JoinHostPort(v.host, strconv.Itoa(upPort))
	refusals := v.start(t, ctx, e, upstream)
	waitListen(t, ctx, upstream)

	proxyAddr := net.JoinHostPort(v.host, strconv.Itoa(freePort(t, v.host)))
	proxy := startNginx(t, ctx, e.nginx, filepath.Join(dir, "proxy"), proxyConf(proxyAddr, upstream, ""), proxyAddr)

	pcapFile := filepath.Join(dir, "run.pcap")
	filter := []string{"tcp", "port", strconv.Itoa(upPort)}
	// The user's own nginx files: its error log is followed live, its
	// configuration names the line of the fix.
	nginxArgs := []string{"--nginx-error-log", proxy.errorLog, "--nginx-conf", proxy.conf}
	passLine := confLine(t, proxy.conf, "proxy_pass https://")
	w := startWatcher(t, e.hellowatch, append(append([]string{"-i", "lo", "--format", "json", "-w", pcapFile}, nginxArgs...), filter...)...)

	// 1. The incident: 502 from nginx, a refused SNI-less hello on the wire.
	url := "http://" + proxyAddr + "/"
	for i := range failingRequests {
		if code, body := get(ctx, url); code != http.StatusBadGateway {
			t.Errorf("request %d through nginx without proxy_ssl_server_name: status %d (%q), want 502", i+1, code, body)
		}
	}
	elog := proxy.log(t)
	for _, want := range []string{"SSL_do_handshake() failed", v.wantLog} {
		if !strings.Contains(elog, want) {
			t.Errorf("nginx error log lacks %q:\n%s", want, testkit.LastLines(elog, 10))
		}
	}
	isFailing := func(r record) bool { return r.Server == upstream && r.ServerName == nil }
	failing := w.waitFor(5*time.Second, failingRequests, isFailing)
	if len(failing) < failingRequests {
		t.Errorf("hellowatch reported %d SNI-less handshakes to %s within 5 s, want %d; all lines so far:\n%s\nstderr:\n%s",
			len(failing), upstream, failingRequests, dump(w.records()), testkit.LastLines(w.Stderr.String(), 20))
	}
	for _, r := range failing {
		checkIncident(t, r, v)
		checkNginxFiles(t, r, v, proxy, passLine)
	}

	// 2. The fix: proxy_ssl_server_name on; -> 200 and an established handshake with SNI.
	proxy.reload(t, proxyConf(proxyAddr, upstream, "proxy_ssl_server_name on;"))
	fixed := false
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if code, _ := get(ctx, url); code == http.StatusOK {
			fixed = true
			break
		}
	}
	if !fixed {
		t.Errorf("nginx with proxy_ssl_server_name on; never answered 200 within 5 s; error log:\n%s", testkit.LastLines(proxy.log(t), 10))
	}
	good := w.waitFor(5*time.Second, 1, func(r record) bool {
		return r.Server == upstream && r.ServerName != nil && *r.ServerName == sniName && r.Outcome == "established"
	})
	if len(good) == 0 {
		t.Errorf("hellowatch reported no established handshake to %s with server_name %q after the fix; lines:\n%s",
			upstream, sniName, dump(w.records()))
	}
	for _, r := range good {
		if !r.Established {
			t.Errorf("outcome established but established=false: %s", r.raw)
		}
		if r.finding("missing_sni") != nil {
			t.Errorf("missing_sni on a handshake with SNI: %s", r.raw)
		}
	}

	// 3. Stop the live capture cleanly, then time the reports against the
	// alert packets it wrote.
	w.stop(t)
	live := w.records()
	times := map[int]time.Time{}
	if refusals != nil {
		for p, at := range refusals() {
			times[p] = at
		}
	}
	if pt, err := alertTimes(pcapFile, upPort); err != nil {
		t.Errorf("read hellowatch's -w file %s: %v", pcapFile, err)
	} else {
		if len(pt) == 0 {
			t.Errorf("hellowatch's -w file %s holds no alert packet from port %d", pcapFile, upPort)
		}
		for p, at := range pt {
			times[p] = at // the packet's own timestamp wins
		}
	}
	for _, r := range failing {
		at, ok := times[portOf(r.Client)]
		if !ok {
			t.Errorf("no alert time known for client %s", r.Client)
			continue
		}
		d := r.readAt.Sub(at)
		t.Logf("report delay for %s -> %s: %v after the alert packet", r.Client, r.Server, d.Round(time.Microsecond))
		if d > maxReportDelay {
			t.Errorf("hellowatch printed the refused handshake %v after the alert, want <= %v", d, maxReportDelay)
		}
	}

	// 4. The replay of the live run's pcap gives the same records.
	replayed := replay(t, e.hellowatch, append(append([]string{"-r", pcapFile, "--format", "json"}, nginxArgs...), filter...)...)
	for _, r := range replayed {
		if isFailing(r) {
			checkNginxFiles(t, r, v, proxy, passLine)
		}
	}
	if len(live) == 0 {
		t.Errorf("hellowatch printed nothing live")
	}
	// -w keeps the failed flows, so an established handshake
	// may be absent from the replay; everything else must match exactly.
	var lk, rk []string
	for _, r := range live {
		if r.Outcome == "established" && !slices.ContainsFunc(replayed, func(x record) bool { return x.key() == r.key() }) {
			t.Logf("not in the -w file (only failed flows are written): %s", r.key())
			continue
		}
		lk = append(lk, r.key())
	}
	for _, r := range replayed {
		rk = append(rk, r.key())
	}
	slices.Sort(lk)
	slices.Sort(rk)
	if !slices.Equal(lk, rk) {
		t.Errorf("live and replayed records differ\nlive:\n  %s\nreplay:\n  %s", strings.Join(lk, "\n  "), strings.Join(rk, "\n  "))
	}
	if n := len(rk); n < failingRequests {
		t.Errorf("replay of %s gave %d records, want at least the %d refused handshakes", pcapFile, n, failingRequests)
	}
}

// checkIncident asserts what the headline diagnosis must say.
func checkIncident(t *testing.T, r record, v variant) {
	t.Helper()
	if r.Outcome != "server_alert" || r.Established {
		t.Errorf("outcome %q established=%v, want server_alert false: %s", r.Outcome, r.Established, r.raw)
	}
	var hit bool
	for _, a := range r.Alerts {
		if a.Sender == "server" && a.Level != nil && *a.Level == "fatal" && a.Code == v.wantCode && !a.Encrypted {
			hit = true
			if a.Description != v.wantDesc {
				t.Errorf("alert %d described as %q, want %q", a.Code, a.Description, v.wantDesc)
			}
		}
	}
	if !hit {
		t.Errorf("no plaintext fatal alert %d (%s) from the server: %s", v.wantCode, v.wantDesc, r.raw)
	}
	f := r.finding("missing_sni")
	switch {
	case f == nil:
		t.Errorf("no finding missing_sni (got %v): %s", r.findingIDs(), r.raw)
	case !strings.Contains(f.Hint, "proxy_ssl_server_name on;"):
		t.Errorf("missing_sni hint does not say `proxy_ssl_server_name on;`: %q", f.Hint)
	}
}

// checkNginxFiles asserts that a refused handshake quotes nginx's own
// error-log line about it (read from the real log) and that its fix names
// the proxy_pass line of the real configuration.
func checkNginxFiles(t *testing.T, r record, v variant, proxy *nginx, passLine int) {
	t.Helper()
	if len(r.LogLines) != 1 {
		t.Errorf("refused handshake %s has %d nginx log lines, want its one: %s\nerror log:\n%s", r.Client, len(r.LogLines), r.raw, testkit.LastLines(proxy.log(t), 10))
		return
	}
	l := r.LogLines[0]
	lines := strings.Split(proxy.log(t), "\n")
	switch {
	case l.File != proxy.errorLog:
		t.Errorf("log line from %q, want %q", l.File, proxy.errorLog)
	case l.Line < 1 || l.Line > len(lines) || lines[l.Line-1] != l.Text:
		t.Errorf("log line %d is not line %d of nginx's error log: %q", l.Line, l.Line, l.Text)
	case !strings.Contains(l.Text, v.wantLog) || !strings.Contains(l.Text, `upstream: "https://`+r.Server+`/`):
		t.Errorf("log line %q is not about %s (%s)", l.Text, r.Server, v.wantLog)
	}
	want := fmt.Sprintf("%s:%d", proxy.conf, passLine)
	if f := r.finding("missing_sni"); f != nil && !strings.Contains(f.Hint, want) {
		t.Errorf("missing_sni fix does not name %s: %q", want, f.Hint)
	}
}

// confLine returns the 1-based line of the first line of file containing s.
func confLine(t *testing.T, file, s string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%s has no line with %q", file, s)
	return 0
}

func dump(recs []record) string {
	if len(recs) == 0 {
		return "  (none)"
	}
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "  %s\n", r.raw)
	}
	return b.String()
}

var httpClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// get returns the status (0 on a transport error) and the start of the body.
func get(ctx context.Context, url string) (int, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err.Error()
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	return resp.StatusCode, string(b)
}

// proxyConf is the incident's reverse proxy: a named upstream, proxy_pass by
// that name, and (unless fix says otherwise) no proxy_ssl_server_name.
func proxyConf(listen, upstream, fix string) string {
	return fmt.Sprintf(`upstream %s { server %s; }
server {
    listen %s;
    location / {
        proxy_pass https://%s/;
        %s
    }
}`, sniName, upstream, listen, sniName, fix)
}

// tlsServer is an nginx server block serving abc.example.com.
func tlsServer(listen, cert, key, extra string) string {
	return fmt.Sprintf(`server {
    listen %s ssl;
    server_name %s;
    ssl_certificate %s;
    ssl_certificate_key %s;
    %s
    location / { return 200 "abc ok\n"; }
}`, listen, sniName, cert, key, extra)
}

// startEdge runs the Cloudflare-like edge in-process, relaying SNI'd hellos
// to the real nginx backend.
func startEdge(t *testing.T, ctx context.Context, e *env, addr string) func() map[int]time.Time {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("e2e: edge listen %s: %v", addr, err)
	}
	host, _, _ := net.SplitHostPort(addr)
	var mu sync.Mutex
	times := map[int]time.Time{}
	cfg := edge.Config{
		Mode:    edge.ModeCloudflare,
		Names:   []string{sniName},
		Backend: e.backend[host],
		OnRefuse: func(r edge.Refusal) {
			mu.Lock()
			defer mu.Unlock()
			if a, ok := r.Client.(*net.TCPAddr); ok {
				times[a.Port] = r.At
			}
		},
	}
	ectx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- edge.Serve(ectx, ln, cfg) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("edge: %v", err)
		}
	})
	return func() map[int]time.Time {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(times)
	}
}

// startHAProxy runs HAProxy with `strict-sni`: fatal unrecognized_name (112)
// to a hello without SNI.
func startHAProxy(t *testing.T, ctx context.Context, e *env, addr string) func() map[int]time.Time {
	dir := filepath.Join(e.dir, "haproxy")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`global
    log stderr local0 info
defaults
    mode http
    log global
    timeout connect 5s
    timeout client 10s
    timeout server 10s
frontend fe
    bind %s ssl crt %s strict-sni
    http-request return status 200 content-type text/plain string ok
`, addr, e.pem)
	f := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(f, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	startProcess(t, exec.Command("haproxy", "-db", "-f", f), filepath.Join(dir, "haproxy.log"))
	waitListen(t, ctx, addr, filepath.Join(dir, "haproxy.log"))
	return nil
}

// startRejectingNginx runs nginx whose default server has
// `ssl_reject_handshake on;` and a named server for abc.example.com.
func startRejectingNginx(t *testing.T, ctx context.Context, e *env, addr string) func() map[int]time.Time {
	body := fmt.Sprintf("server { listen %s ssl default_server; ssl_reject_handshake on; }\n%s",
		addr, tlsServer(addr, e.cert, e.key, ""))
	startNginx(t, ctx, e.nginx, filepath.Join(e.dir, "reject"), body, addr)
	return nil
}
