package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseLogTZ(t *testing.T) {
	for in, off := range map[string]int{"UTC": 0, "+05:30": 5*3600 + 1800, "-0700": -7 * 3600, "UTC+01:00": 3600, "Asia/Kolkata": 5*3600 + 1800} {
		loc, err := parseLogTZ(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if _, got := time.Date(2026, 1, 1, 0, 0, 0, 0, loc).Zone(); got != off {
			t.Errorf("%s: offset %d, want %d", in, got, off)
		}
	}
	if _, err := parseLogTZ("Mars/Olympus"); err == nil {
		t.Error("unknown zone accepted")
	}
}

// TestNginxFlags: --nginx-error-log and --nginx-conf on a shipped capture
// with a log written in nginx's own words (the lines of real nginx runs are
// in nginx/errlog/testdata and the e2e test): the refused handshakes quote
// their lines, the fix names the configuration's line, the summary counts.
func TestNginxFlags(t *testing.T) {
	dir := t.TempDir()
	line := `SSL_do_handshake() failed (SSL: error:0A000410:SSL routines::sslv3 alert handshake failure:SSL alert number 40) while SSL handshaking to upstream, client: 127.0.0.1, server: , request: "GET / HTTP/1.1", upstream: "https://127.0.0.1:8443/", host: "localhost"`
	log := "2026/11/25 23:18:18 [notice] 1#1: start worker processes\n" +
		"2026/11/25 23:18:18 [error] 7#7: *1 " + line + "\n" +
		"2026/11/25 23:18:18 [error] 7#7: *3 " + line + "\n" +
		"2026/11/25 23:19:30 [error] 7#7: *5 " + line + "\n"
	logFile, confFile := filepath.Join(dir, "error.log"), filepath.Join(dir, "nginx.conf")
	os.WriteFile(logFile, []byte(log), 0o644)
	os.WriteFile(confFile, []byte("http {\n    server {\n        location / {\n            proxy_pass https://127.0.0.1:8443/;\n        }\n    }\n}\n"), 0o644)
	sample := filepath.Join("..", "..", "samples", "incident-missing-sni.pcap")
	stdout, stderr, code := runCmd(t, "-r", sample, "--format", "text", "--summary", "always",
		"--nginx-error-log", logFile, "--nginx-log-tz", "+01:00", "--nginx-conf", confFile)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"nginx log (" + logFile + ":2): 2026/11/25 23:18:18 [error] 7#7: *1 SSL_do_handshake() failed",
		"nginx log (" + logFile + ":3): 2026/11/25 23:18:18 [error] 7#7: *3 SSL_do_handshake() failed",
		"fix: nginx: add `proxy_ssl_server_name on;` and `proxy_ssl_name <upstream host name>;` next to `proxy_pass https://127.0.0.1:8443/;` at " + confFile + ":4",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "nginx log: ") {
		t.Errorf("canned nginx log line printed beside the user's:\n%s", stdout)
	}
	if !strings.Contains(stderr, "upstream TLS lines 3, joined to a handshake 2, explained by no captured handshake 1 (other lines 1)") ||
		!strings.Contains(stderr, "failed handshakes without a log line: 0") {
		t.Errorf("summary lacks the nginx counts:\n%s", stderr)
	}
	// The wrong zone joins nothing: the lines are an hour off.
	stdout, stderr, _ = runCmd(t, "-r", sample, "--format", "json", "--summary", "always",
		"--nginx-error-log", logFile, "--nginx-log-tz", "UTC")
	if strings.Contains(stdout, `"log_lines":[{`) || !strings.Contains(stderr, "failed handshakes without a log line: 2") {
		t.Errorf("lines joined across a wrong zone:\n%s\n%s", stdout, stderr)
	}
	if !strings.Contains(stdout, `"log_lines":[]`) {
		t.Errorf("log_lines missing:\n%s", stdout)
	}
	// Usage and runtime errors.
	if _, _, code := runCmd(t, "-r", sample, "--nginx-log-tz", "Mars/Olympus"); code != exitUsage {
		t.Errorf("bad zone: exit %d, want %d", code, exitUsage)
	}
	if _, stderr, code := runCmd(t, "-r", sample, "--nginx-error-log", filepath.Join(dir, "none.log")); code != exitError || !strings.Contains(stderr, "none.log") {
		t.Errorf("missing log: exit %d, %s", code, stderr)
	}
}
