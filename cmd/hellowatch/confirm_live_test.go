package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hellowatch/hellowatch/capture"
	"github.com/hellowatch/hellowatch/internal/edge"
	"github.com/hellowatch/hellowatch/internal/testkit"
	"github.com/hellowatch/hellowatch/tlsparse"
)

// The live tests of `hellowatch confirm`: real servers (HAProxy, nginx, Go
// crypto/tls) in one network namespace, real clients (nginx, curl, Go) in
// another, joined by a veth pair. Each case captures a real client's
// failing handshake with tcpdump, then runs `hellowatch confirm` on that
// capture from the client's namespace against the live server.
const (
	cfClientNS = "hwcf-c"
	cfServerNS = "hwcf-s"
	cfClientIf = "hwcf-c0"
	cfServerIf = "hwcf-s0"
	cfClient4  = "198.18.80.1"
	cfServer4  = "198.18.80.2"
	cfClient6  = "2001:db8:80::1"
	cfServer6  = "2001:db8:80::2"
	cfName     = "abc.example.com"
)

// confirmHelperEnv makes the test binary one of the Go programs of the
// live test (a server or a client), run inside a namespace.
const confirmHelperEnv = "HWCF_HELPER"

func init() {
	switch os.Getenv(confirmHelperEnv) {
	case "":
	case "alpn-server":
		os.Exit(cfALPNServer(os.Args[1:]))
	case "go-client":
		os.Exit(cfGoClient(os.Args[1:]))
	default:
		fmt.Fprintln(os.Stderr, "unknown helper")
		os.Exit(2)
	}
}

// cfALPNServer is a Go crypto/tls server that speaks h2 only (a gRPC
// server's setting): args listen address, certificate, key.
func cfALPNServer(args []string) int {
	cert, err := tls.LoadX509KeyPair(args[1], args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// TLS 1.2 at most, so that the ServerHello shows the protocol chosen.
	ln, err := tls.Listen("tcp", args[0], &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}, MaxVersion: tls.VersionTLS12})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("listening")
	for {
		c, err := ln.Accept()
		if err != nil {
			return 1
		}
		go func() {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			c.(*tls.Conn).Handshake()
			c.Close()
		}()
	}
}

// cfGoClient is a Go crypto/tls client (X25519MLKEM768 by default): args
// address, server name, ALPN protocols (comma-separated, may be empty).
func cfGoClient(args []string) int {
	cfg := &tls.Config{ServerName: args[1], InsecureSkipVerify: true}
	if args[2] != "" {
		cfg.NextProtos = strings.Split(args[2], ",")
	}
	d := &tls.Dialer{Config: cfg}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", args[0])
	if err != nil {
		fmt.Println("handshake failed:", err)
		return 0
	}
	fmt.Println("handshake worked")
	c.Close()
	return 0
}

// cfEnv is the namespaces, files and servers of the live test.
type cfEnv struct {
	dir            string
	cert, key, pem string
	exe            string
}

func cfRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func cfNS(ns string, args ...string) []string { return append([]string{"netns", "exec", ns}, args...) }

// cfSetup makes the two namespaces and the veth pair between them
// (offloads off, so that the capture shows the segments on the wire).
func cfSetup(t *testing.T) {
	for _, ns := range []string{cfClientNS, cfServerNS} {
		exec.Command("ip", "netns", "del", ns).Run()
	}
	t.Cleanup(func() {
		for _, ns := range []string{cfClientNS, cfServerNS} {
			exec.Command("ip", "netns", "del", ns).Run()
		}
	})
	cfRun(t, "ip", "netns", "add", cfClientNS)
	cfRun(t, "ip", "netns", "add", cfServerNS)
	cfRun(t, "ip", "link", "add", cfClientIf, "netns", cfClientNS, "type", "veth", "peer", "name", cfServerIf, "netns", cfServerNS)
	for _, c := range []struct{ ns, dev, a4, a6 string }{
		{cfClientNS, cfClientIf, cfClient4, cfClient6}, {cfServerNS, cfServerIf, cfServer4, cfServer6},
	} {
		cfRun(t, "ip", "-n", c.ns, "link", "set", "lo", "up")
		cfRun(t, "ip", "-n", c.ns, "addr", "add", c.a4+"/24", "dev", c.dev)
		cfRun(t, "ip", "-n", c.ns, "addr", "add", c.a6+"/64", "dev", c.dev, "nodad")
		cfRun(t, "ip", "-n", c.ns, "link", "set", c.dev, "up")
		cfRun(t, "ip", cfNS(c.ns, "ethtool", "-K", c.dev, "tso", "off", "gso", "off", "gro", "off")...)
	}
}

// cfProc is a program started by cfStart; done is closed when it exits.
type cfProc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// cfStart starts a long-running program in a namespace; at cleanup it gets
// SIGTERM (nginx and HAProxy stop their workers on it), then SIGKILL.
func cfStart(t *testing.T, ns, log string, env []string, args ...string) *cfProc {
	t.Helper()
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", cfNS(ns, args...)...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = env
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); f.Close(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return &cfProc{cmd, done}
}

// cfWaitListen waits until something listens on port in ns.
func cfWaitListen(t *testing.T, ns string, port int, logs ...string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		out, _ := exec.Command("ip", cfNS(ns, "ss", "-Hltn", fmt.Sprintf("( sport = :%d )", port))...).Output()
		if len(bytes.TrimSpace(out)) > 0 {
			return
		}
	}
	var tail string
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		tail += "\n--- " + l + ":\n" + string(b)
	}
	t.Fatalf("nothing listens on port %d in %s%s", port, ns, tail)
}

func cfNginxConf(dir, body string) string {
	return fmt.Sprintf(`user root;
worker_processes 1;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    default_type text/plain;
    client_body_temp_path %[1]s/tmp_body;
    proxy_temp_path %[1]s/tmp_proxy;
    fastcgi_temp_path %[1]s/tmp_fastcgi;
    uwsgi_temp_path %[1]s/tmp_uwsgi;
    scgi_temp_path %[1]s/tmp_scgi;
%[2]s
}
`, dir, body)
}

func cfStartNginx(t *testing.T, e *cfEnv, ns, name, body string, ports ...int) {
	t.Helper()
	dir := filepath.Join(e.dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(cfNginxConf(dir, body)), 0o644); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "stdout.log")
	cfStart(t, ns, log, os.Environ(), "nginx", "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
	for _, p := range ports {
		cfWaitListen(t, ns, p, log, filepath.Join(dir, "error.log"))
	}
}

func cfWriteCert(t *testing.T, e *cfEnv) {
	t.Helper()
	c, err := edge.SelfSigned([]string{cfName})
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	e.cert, e.key, e.pem = filepath.Join(e.dir, "abc.crt"), filepath.Join(e.dir, "abc.key"), filepath.Join(e.dir, "abc.pem")
	for f, b := range map[string][]byte{e.cert: certPEM, e.key: keyPEM, e.pem: append(append([]byte{}, certPEM...), keyPEM...)} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// cfServers starts every server in the server namespace.
func cfServers(t *testing.T, e *cfEnv) {
	// HAProxy: strict-sni (8443), an SNI router in TCP mode (8447)
	// that routes on what arrived within its inspect-delay:
	// abc.example.com to nginx, anything else (a hello not whole by then)
	// to a backend that rejects. HAProxy 2.6's req.ssl_hello_type waits for
	// the whole hello message, so the short delay is what makes the router
	// decide on the first segment alone; the same router with confirm's
	// hint applied, a 5 s inspect-delay (8449).
	hdir := filepath.Join(e.dir, "haproxy")
	os.MkdirAll(hdir, 0o755)
	hcfg := fmt.Sprintf(`global
    log stderr local0 info
defaults
    mode http
    log global
    timeout connect 5s
    timeout client 10s
    timeout server 10s
frontend strict
    bind %[1]s:8443 ssl crt %[2]s strict-sni
    http-request return status 200 content-type text/plain string ok
frontend router
    mode tcp
    bind %[1]s:8447
    tcp-request inspect-delay 50ms
    tcp-request content accept if { req.ssl_hello_type 1 }
    use_backend abc if { req.ssl_sni -i %[3]s }
    default_backend reject
frontend router-fixed
    mode tcp
    bind %[1]s:8449
    tcp-request inspect-delay 5s
    tcp-request content accept if { req.ssl_hello_type 1 }
    use_backend abc if { req.ssl_sni -i %[3]s }
    default_backend reject
backend abc
    mode tcp
    server nginx %[1]s:8444
backend reject
    mode tcp
    tcp-request content reject
`, cfServer4, e.pem, cfName)
	hconf := filepath.Join(hdir, "haproxy.cfg")
	if err := os.WriteFile(hconf, []byte(hcfg), 0o644); err != nil {
		t.Fatal(err)
	}
	hlog := filepath.Join(hdir, "haproxy.log")
	cfStart(t, cfServerNS, hlog, os.Environ(), "haproxy", "-db", "-f", hconf)

	// nginx: ssl_reject_handshake in the default server with a named
	// server for abc.example.com (8444); TLS 1.3 only (8445); a server
	// that rejects every hello (8448).
	srv := fmt.Sprintf(`server {
    listen %[1]s:8444 ssl default_server;
    ssl_reject_handshake on;
}
server {
    listen %[1]s:8444 ssl;
    server_name %[2]s;
    ssl_certificate %[3]s;
    ssl_certificate_key %[4]s;
    location / { return 200 "abc ok\n"; }
}
server {
    listen %[1]s:8445 ssl;
    server_name %[2]s;
    ssl_protocols TLSv1.3;
    ssl_certificate %[3]s;
    ssl_certificate_key %[4]s;
    location / { return 200 "tls13 ok\n"; }
}
server {
    listen %[1]s:8448 ssl;
    ssl_reject_handshake on;
}`, cfServer4, cfName, e.cert, e.key)
	cfStartNginx(t, e, cfServerNS, "nginx-server", srv, 8444, 8445, 8448)
	cfWaitListen(t, cfServerNS, 8443, hlog)
	cfWaitListen(t, cfServerNS, 8447, hlog)
	cfWaitListen(t, cfServerNS, 8449, hlog)

	// Go crypto/tls with NextProtos h2 only, over IPv6 (8446).
	alog := filepath.Join(e.dir, "alpn-server.log")
	cfStart(t, cfServerNS, alog, append(os.Environ(), confirmHelperEnv+"=alpn-server"),
		e.exe, "["+cfServer6+"]:8446", e.cert, e.key)
	cfWaitListen(t, cfServerNS, 8446, alog)

	// The client side's nginx: the incident's reverse proxy (no
	// proxy_ssl_server_name, nginx 1.22's default TLSv1-TLSv1.2).
	cli := fmt.Sprintf(`server {
    listen 127.0.0.1:8080;
    location /strict/ { proxy_pass https://%[1]s:8443/; }
    location /tls13/ { proxy_pass https://%[1]s:8445/; }
}`, cfServer4)
	cfStartNginx(t, e, cfClientNS, "nginx-client", cli, 8080)
}

// cfCapture runs tcpdump on the client's veth while client() runs, and
// returns the capture file.
func cfCapture(t *testing.T, e *cfEnv, name, filter string, client func()) string {
	t.Helper()
	file := filepath.Join(e.dir, name+".pcap")
	log := filepath.Join(e.dir, name+".tcpdump.log")
	args := []string{"tcpdump", "-i", cfClientIf, "-n", "-U", "--immediate-mode", "-w", file}
	if filter != "" {
		args = append(args, filter)
	}
	p := cfStart(t, cfClientNS, log, os.Environ(), args...)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(log)
		if bytes.Contains(b, []byte("listening on")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tcpdump did not start:\n%s", b)
		}
	}
	client()
	time.Sleep(500 * time.Millisecond)
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		t.Fatal("tcpdump did not stop")
	}
	if k := os.Getenv("HWCF_KEEP"); k != "" {
		// HWCF_KEEP=dir keeps the captures (and the text outputs) there.
		b, _ := os.ReadFile(file)
		os.WriteFile(filepath.Join(k, name+".pcap"), b, 0o644)
	}
	return file
}

// cfClient runs a client in the client namespace; its failure is the point.
func cfClient(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("ip", cfNS(cfClientNS, args...)...)
	cmd.Env = env
	out, _ := cmd.CombinedOutput()
	return string(out)
}

// confirmDoc is the JSON of `hellowatch confirm`, as far as the test looks.
type confirmDoc struct {
	Schema   string   `json:"schema"`
	Client   string   `json:"client"`
	Server   string   `json:"server"`
	Target   string   `json:"target"`
	Findings []string `json:"findings"`
	Variants []struct {
		ID       string `json:"id"`
		Bytes    int    `json:"bytes"`
		Split    *int   `json:"split"`
		JA4      string `json:"ja4"`
		Accepted bool   `json:"accepted"`
		Answer   struct {
			Kind    string  `json:"kind"`
			Version *string `json:"version"`
			ALPN    *string `json:"alpn"`
			Alert   *struct {
				Level string `json:"level"`
				Code  int    `json:"code"`
			} `json:"alert"`
			Early bool `json:"before_rest_sent"`
		} `json:"answer"`
	} `json:"variants"`
	Verdict string  `json:"verdict"`
	Text    string  `json:"verdict_text"`
	Fix     *string `json:"fix"`
	FixedBy *string `json:"fixed_by"`
}

// cfConfirm runs `hellowatch confirm` in the client namespace.
func cfConfirm(t *testing.T, e *cfEnv, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command("ip", cfNS(cfClientNS, append([]string{e.exe, "confirm"}, args...)...)...)
	cmd.Env = hellowatchEnv()
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return code, so.String(), se.String()
}

func TestConfirmLive(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root for network namespaces (sudo ./scripts/test.sh runs it)")
	}
	for _, tool := range []string{"ip", "tc", "ss", "ethtool", "tcpdump", "nginx", "haproxy", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: scripts/test.sh installs it", tool)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	e := &cfEnv{dir: t.TempDir(), exe: exe}
	cfSetup(t)
	cfWriteCert(t, e)
	cfServers(t, e)
	goEnv := append(os.Environ(), confirmHelperEnv+"=go-client")

	type want struct {
		finding  string // the capture's first finding ("": none, the server closed mid-hello)
		baseline string // kind, or kind/code for an alert
		fixedBy  string
		version  string // the fixing variant's version
		code     int
	}
	cases := []struct {
		name   string
		filter string
		client []string
		env    []string
		args   []string
		want   want
	}{
		{"haproxy-strict-sni", "tcp port 8443", []string{"curl", "-s", "--max-time", "5", "http://127.0.0.1:8080/strict/"}, nil,
			[]string{"--sni", cfName}, want{"missing_sni", "alert/112", "sni", "TLS 1.2", 0}},
		{"nginx-reject-handshake", "tcp port 8444", []string{"curl", "-sk", "--max-time", "5", "https://" + cfServer4 + ":8444/"}, nil,
			[]string{"--sni", cfName}, want{"missing_sni", "alert/112", "sni", "TLS 1.2", 0}},
		{"nginx-tls13-only", "tcp port 8445", []string{"curl", "-s", "--max-time", "5", "http://127.0.0.1:8080/tls13/"}, nil,
			nil, want{"version_mismatch", "alert/70", "versions", "TLS 1.3", 0}},
		{"go-alpn-h2-only", "tcp port 8446", []string{e.exe, "[" + cfServer6 + "]:8446", cfName, "http/1.0"}, goEnv,
			nil, want{"alpn_mismatch", "alert/120", "alpn", "TLS 1.2", 0}},
		{"refuses-everything", "tcp port 8448", []string{"curl", "-sk", "--max-time", "5", "https://" + cfServer4 + ":8448/"}, nil,
			[]string{"--sni", cfName}, want{"missing_sni", "alert/112", "", "", exitNotFixed}},
	}
	run := func(t *testing.T, name, filter string, client, env, args []string, w want, pause string) confirmDoc {
		t.Helper()
		var out string
		file := cfCapture(t, e, name, filter, func() { out = cfClient(t, env, client...) })
		code, stdout, stderr := cfConfirm(t, e, append([]string{"-r", file, "--format", "json", "--timeout", "3s", "--pause", pause}, args...)...)
		if k := os.Getenv("HWCF_KEEP"); k != "" {
			// For a look (and the README): the same run as text.
			_, text, _ := cfConfirm(t, e, append([]string{"-r", file, "--timeout", "3s", "--pause", pause}, args...)...)
			os.WriteFile(filepath.Join(k, name+".txt"), []byte(text), 0o644)
		}
		var doc confirmDoc
		if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
			t.Fatalf("confirm exit %d: %v\nstdout: %s\nstderr: %s\nclient: %s", code, err, stdout, stderr, out)
		}
		pretty, _ := json.MarshalIndent(doc, "", "  ")
		first := ""
		if len(doc.Findings) > 0 {
			first = doc.Findings[0]
		}
		if code != w.code || first != w.finding || len(doc.Variants) < 2 {
			t.Fatalf("exit %d (want %d), findings %v (want %s first)\n%s\nstderr: %s", code, w.code, doc.Findings, w.finding, pretty, stderr)
		}
		base := doc.Variants[0]
		got := base.Answer.Kind
		if base.Answer.Alert != nil {
			got = fmt.Sprintf("alert/%d", base.Answer.Alert.Code)
		}
		if base.ID != "as_captured" || w.baseline != "" && got != w.baseline || base.Accepted {
			t.Errorf("as captured: %s (want %s)\n%s", got, w.baseline, pretty)
		}
		if w.fixedBy == "" {
			if doc.Verdict != "no_fix" || doc.FixedBy != nil || doc.Text != "the fix does not change the answer: the cause is elsewhere" {
				t.Errorf("verdict %s %q\n%s", doc.Verdict, doc.Text, pretty)
			}
			return doc
		}
		if doc.Verdict != "fix_works" || doc.FixedBy == nil || *doc.FixedBy != w.fixedBy || !strings.HasPrefix(doc.Text, "the fix works: ") {
			t.Fatalf("verdict %s by %v\n%s", doc.Verdict, doc.FixedBy, pretty)
		}
		for _, v := range doc.Variants {
			if v.ID == w.fixedBy && (v.Answer.Kind != "server_hello" || v.Answer.Version == nil || *v.Answer.Version != w.version) {
				t.Errorf("%s: %s\n%s", v.ID, v.Answer.Kind, pretty)
			}
		}
		return doc
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := run(t, c.name, c.filter, c.client, c.env, c.args, c.want, "200ms")
			if c.name == "go-alpn-h2-only" {
				if v := doc.Variants[len(doc.Variants)-1]; v.Answer.ALPN == nil || *v.Answer.ALPN != "h2" || !strings.HasPrefix(doc.Server, "[") {
					t.Errorf("alpn variant over IPv6: %s %+v", doc.Server, v.Answer)
				}
			}
		})
	}

	// The SNI router with a post-quantum Go hello. A token bucket on the
	// client's veth delays the hello's second segment about 230 ms, as a
	// slow or lossy path does (tc netem is not available here; htb, u32
	// and tbf are): packets to the router of 1024 to 2047 IP bytes go to a
	// tbf of 1530 bytes at 500 bytes/s. TCP hands the qdisc the 1507-byte
	// hello as one GSO packet of two segments; being larger than the
	// bucket, tbf cuts it into its segments: the first (1514 bytes on the
	// wire) passes at once, the second waits for tokens. The router's 50 ms
	// inspect-delay passes with only the first segment in, and HAProxy
	// routes it to the reject backend. Small packets (SYN, ACK, a classic
	// hello) pass untouched; the bucket refills within the 3.5 s between
	// confirm's connections.
	t.Run("sni-router-split-hello", func(t *testing.T) {
		tc := func(args ...string) { cfRun(t, "ip", cfNS(cfClientNS, append([]string{"tc"}, args...)...)...) }
		tc("qdisc", "add", "dev", cfClientIf, "root", "handle", "1:", "htb", "default", "20")
		defer exec.Command("ip", cfNS(cfClientNS, "tc", "qdisc", "del", "dev", cfClientIf, "root")...).Run()
		tc("class", "add", "dev", cfClientIf, "parent", "1:", "classid", "1:10", "htb", "rate", "10gbit")
		tc("class", "add", "dev", cfClientIf, "parent", "1:", "classid", "1:20", "htb", "rate", "10gbit")
		tc("qdisc", "add", "dev", cfClientIf, "parent", "1:10", "handle", "10:", "tbf", "rate", "4kbit", "burst", "1530", "latency", "10s")
		tc("filter", "add", "dev", cfClientIf, "parent", "1:", "protocol", "ip", "prio", "1", "u32",
			"match", "ip", "dst", cfServer4+"/32", "match", "u16", "0x0400", "0xfc00", "at", "2", "flowid", "1:10")
		doc := run(t, "sni-router", "tcp port 8447", []string{e.exe, cfServer4 + ":8447", cfName, ""}, goEnv, nil,
			want{"large_hello_dropped", "", "classic_groups", "TLS 1.2", 0}, "3500ms")
		var ids []string
		for _, v := range doc.Variants {
			ids = append(ids, v.ID)
		}
		if strings.Join(ids, ",") != "as_captured,two_segments,classic_groups" {
			t.Fatalf("variants %v", ids)
		}
		base, split, classic := doc.Variants[0], doc.Variants[1], doc.Variants[2]
		if (base.Answer.Kind != "closed" && base.Answer.Kind != "reset") || base.Bytes <= 1448 {
			t.Errorf("as captured (%d bytes): %+v", base.Bytes, base.Answer)
		}
		if split.Answer.Kind != "closed" && split.Answer.Kind != "reset" || !split.Answer.Early || split.Split == nil || *split.Split != 1448 {
			t.Errorf("two segments: %+v split %v", split.Answer, split.Split)
		}
		if classic.Bytes > 1448 || !classic.Accepted {
			t.Errorf("classic groups (%d bytes): %+v", classic.Bytes, classic.Answer)
		}
		// The hint's router (a 5 s inspect-delay) takes the same hello,
		// second segment late as before: confirm --connect says so.
		code, stdout, stderr := cfConfirm(t, e, "-r", filepath.Join(e.dir, "sni-router.pcap"), "--format", "json",
			"--connect", cfServer4+":8449", "--pause", "3500ms")
		var fixed confirmDoc
		if err := json.Unmarshal([]byte(stdout), &fixed); err != nil || code != exitNotFixed || fixed.Verdict != "not_reproduced" ||
			fixed.Target != cfServer4+":8449" || !fixed.Variants[0].Accepted || !strings.HasPrefix(fixed.Text, "the failure does not reproduce: ") {
			t.Errorf("the fixed router: exit %d %v\n%s%s", code, err, stdout, stderr)
		}
		if testkit.Updating() {
			// confirm's unit tests read this real capture without root.
			b, err := os.ReadFile(filepath.Join(e.dir, "sni-router.pcap"))
			if err == nil {
				err = os.WriteFile(filepath.Join("..", "..", "confirm", "testdata", "sni-router-split-hello.pcap"), b, 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	})
	// The text output, which reads like the incident's `openssl s_client
	// -servername` step; and what confirm sent, captured.
	t.Run("text", func(t *testing.T) {
		file := cfCapture(t, e, "curl-no-sni", "tcp port 8444", func() {
			cfClient(t, nil, "curl", "-sk", "--max-time", "5", "https://"+cfServer4+":8444/")
		})
		traffic := cfCapture(t, e, "confirm-traffic", "", func() {
			code, stdout, stderr := cfConfirm(t, e, "-r", file, "--sni", cfName, "--pause", "100ms")
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
			}
			lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
			if len(lines) != 6 || !strings.HasPrefix(lines[0], "the ClientHello of "+cfClient4+":") ||
				!strings.Contains(lines[0], "→ "+cfServer4+":8444 (no SNI, missing_sni), replayed to "+cfServer4+":8444, one connection each:") ||
				!strings.HasPrefix(lines[1], "  as captured:               fatal unrecognized_name (112), ") ||
				!strings.HasPrefix(lines[3], "  with SNI abc.example.com:  ServerHello TLS 1.2, TLS_") ||
				!strings.Contains(lines[3], ", certificate CN=abc.example.com, ") ||
				!strings.Contains(lines[4], "-byte hello in one write, ja3 ") ||
				lines[5] != "the fix works: nginx: add `proxy_ssl_server_name on;` (and `proxy_ssl_name <host>;` when proxy_pass names an IP address)" {
				t.Errorf("text output:\n%s", stdout)
			}
		})
		cfCheckTraffic(t, traffic, 2)
	})
}

// cfCheckTraffic reads what confirm sent (captured on the client's veth)
// with the project's capture package: packets only to and from the server,
// conns connections, and on each exactly one ClientHello: nothing after it
// (no Finished, no application data).
func cfCheckTraffic(t *testing.T, file string, conns int) {
	t.Helper()
	src, err := capture.OpenFiles([]string{file})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	server := netip.MustParseAddr(cfServer4)
	client := netip.MustParseAddr(cfClient4)
	sent := map[uint16][]byte{}
	syns := 0
	var d capture.Decoded
	for {
		p, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if capture.DecodePacket(p.Link, p.Data, &d) != capture.SkipNone {
			continue // ARP, neighbour discovery
		}
		switch {
		case d.Src == client && d.Dst == server && d.DstPort == 8444:
		case d.Dst == client && d.Src == server && d.SrcPort == 8444:
			continue
		default:
			t.Errorf("packet %d: %v:%d -> %v:%d", p.Index, d.Src, d.SrcPort, d.Dst, d.DstPort)
			continue
		}
		if d.Flags&capture.TCPFlagSYN != 0 {
			syns++
		}
		sent[d.SrcPort] = append(sent[d.SrcPort], d.Payload...)
	}
	if syns != conns || len(sent) != conns {
		t.Errorf("%d SYNs, %d connections, want %d", syns, len(sent), conns)
	}
	for port, b := range sent {
		if _, _, n, err := tlsparse.ClientHelloFromRecords(b); err != nil || n != len(b) {
			t.Errorf("connection from port %d sent %d bytes: a hello of %d and more (%v)", port, len(b), n, err)
		}
	}
}
