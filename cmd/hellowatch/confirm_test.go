package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hellowatch/hellowatch/internal/edge"
)

// TestConfirmErrors pins `hellowatch confirm`'s exit codes for everything
// short of probing: 2 for usage, 1 for what the capture cannot give.
func TestConfirmErrors(t *testing.T) {
	incident := filepath.Join("..", "..", "samples", "incident-missing-sni.pcap")
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"-h"}, exitOK, "Usage: hellowatch confirm"},
		{nil, exitUsage, "give the capture with -r file"},
		{[]string{"-r", incident, "--bogus"}, exitUsage, "flag provided but not defined"},
		{[]string{"-r", incident, "extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"-r", incident, "--flow", "127.0.0.1:1"}, exitUsage, "want client,server"},
		{[]string{"-r", incident, "--flow", "*,nohost"}, exitUsage, "--flow"},
		{[]string{"-r", incident, "--connect", "nohostport"}, exitUsage, "--connect"},
		{[]string{"-r", incident, "--format", "xml"}, exitUsage, "format"},
		{[]string{"-r", incident, "--timeout", "0s"}, exitUsage, "must be positive"},
		{[]string{"-r", incident}, exitUsage, "no host name to try: give it with --sni"},
		{[]string{"-r", "/nonexistent.pcap"}, exitError, "nonexistent.pcap"},
		{[]string{"-r", filepath.Join("..", "..", "samples", "incident-fixed.pcap")}, exitError, "no failed TCP handshake among the 2 read"},
		{[]string{"-r", incident, "--flow", "*,192.0.2.1:443"}, exitError, "none to 192.0.2.1:443"},
		{[]string{"-r", filepath.Join("..", "..", "samples", "plaintext-upstream.pcap")}, exitError, "no ClientHello change tests this finding (findings: plaintext_upstream)"},
	}
	for _, c := range cases {
		stdout, stderr, code := runCmd(t, append([]string{"confirm"}, c.args...)...)
		if code != c.code || !strings.Contains(stderr, c.msg) || stdout != "" {
			t.Errorf("confirm %v: exit %d (want %d)\nstderr: %s\nstdout: %s", c.args, code, c.code, stderr, stdout)
		}
	}
}

// TestConfirmIncident runs the command on the shipped incident against the
// Cloudflare-like edge on loopback (--connect): exit 0 with the fix, 4 with
// a name the edge does not serve, 1 when nothing listens.
func TestConfirmIncident(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		edge.Serve(ctx, ln, edge.Config{Mode: edge.ModeCloudflare, Names: []string{"abc.example.com"}})
		close(done)
	}()
	defer func() { cancel(); <-done }()
	incident := filepath.Join("..", "..", "samples", "incident-missing-sni.pcap")
	args := []string{"confirm", "-r", incident, "--connect", ln.Addr().String(), "--pause", "10ms"}
	stdout, stderr, code := runCmd(t, append(args, "--sni", "abc.example.com")...)
	if code != exitOK || !strings.Contains(stdout, "  as captured:               fatal handshake_failure (40), ") ||
		!strings.Contains(stdout, "  with SNI abc.example.com:  ServerHello TLS 1.2, ") ||
		!strings.HasSuffix(stdout, "the fix works: nginx: add `proxy_ssl_server_name on;` (and `proxy_ssl_name <host>;` when proxy_pass names an IP address)\n") {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
	// Without --sni, the name comes from the nginx configuration whose
	// proxy_pass reaches the flow's server (an IP literal there: the name
	// is the Host header nginx sends).
	rec := capturedServer(t, incident)
	cfg := filepath.Join(t.TempDir(), "nginx.conf")
	os.WriteFile(cfg, []byte("events {}\nhttp {\n  server {\n    listen 8080;\n    location / {\n      proxy_set_header Host abc.example.com;\n      proxy_pass https://"+rec+";\n    }\n  }\n}\n"), 0o644)
	stdout, stderr, code = runCmd(t, append(args, "--nginx-conf", cfg)...)
	if code != exitOK || !strings.Contains(stdout, "  with SNI abc.example.com:  ServerHello TLS 1.2, ") {
		t.Errorf("--nginx-conf: exit %d\n%s%s", code, stdout, stderr)
	}
	stdout, stderr, code = runCmd(t, append(args, "--sni", "other.example.com", "--format", "json")...)
	if code != exitNotFixed || !strings.Contains(stdout, `"verdict":"no_fix"`) {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
	cancel()
	<-done
	_, stderr, code = runCmd(t, append(args, "--sni", "abc.example.com")...)
	if code != exitError || !strings.Contains(stderr, "connect to "+ln.Addr().String()) {
		t.Errorf("nothing listening: exit %d\n%s", code, stderr)
	}
}

// capturedServer returns the server address of the first record of a
// sample, as hellowatch -r reports it.
func capturedServer(t *testing.T, path string) string {
	t.Helper()
	out, errOut, code := runCmd(t, "-r", path, "--format", "json", "--summary", "never")
	if code != exitOK && code != exitFailures {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rec struct {
		Server string `json:"server"`
	}
	if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &rec); err != nil || rec.Server == "" {
		t.Fatalf("first record of %s: %v", path, err)
	}
	return rec.Server
}
