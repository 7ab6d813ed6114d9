package main

// Every error path of the command and its exit code (issue 4): 0 ran fine,
// 1 runtime error, 2 usage error, 3 --fail-on findings seen. The messages
// must name what is wrong (the file, the interface, the variable).

import (
	"bytes"
	"compress/gzip"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestErrorsAndExitCodes(t *testing.T) {
	dir := t.TempDir()
	incident := sample("incident-missing-sni.pcap")
	mixed := sample("pcapng-mixed.pcapng") // 2 established, 2 server_alert with missing_sni
	tls13 := sample("tls13-alpn.pcap")     // 1 established, no finding

	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	whole, err := os.ReadFile(incident)
	if err != nil {
		t.Fatal(err)
	}
	notCapture := write("notes.txt", []byte("this is not a capture file\n"))
	empty := write("empty.pcap", nil)
	// Cut in the middle of the 6th record (the server's alert).
	truncated := write("truncated.pcap", whole[:len(whole)*2/3])
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(whole)
	_ = zw.Close()
	gzipped := write("incident.pcap.gz", gz.Bytes())
	missing := filepath.Join(dir, "missing.pcap")
	aDir := filepath.Join(dir, "a-directory")
	if err := os.Mkdir(aDir, 0o755); err != nil {
		t.Fatal(err)
	}

	type tc struct {
		name        string
		args        []string
		code        int
		stdout      []string // substrings
		stderr      []string // substrings
		lines       int      // JSON lines on stdout, -1: do not count
		rootOnly    bool
		nonRootOnly bool
		emptyStdio  bool // nothing at all on stdout
	}
	tests := []tc{
		// Usage errors: 2.
		{name: "unknown_flag", args: []string{"--nope"}, code: 2, stderr: []string{"flag provided but not defined: -nope", "Usage: hellowatch"}, lines: -1, emptyStdio: true},
		{name: "bad_int", args: []string{"-r", incident, "-c", "abc"}, code: 2, stderr: []string{`invalid value "abc" for flag -c`}, lines: -1, emptyStdio: true},
		{name: "bad_duration", args: []string{"-r", incident, "--timeout", "soon"}, code: 2, stderr: []string{`invalid value "soon" for flag -timeout`}, lines: -1, emptyStdio: true},
		{name: "bad_format", args: []string{"-r", incident, "--format", "xml"}, code: 2, stderr: []string{`invalid value "xml" for flag -format: must be one of text, json, zeek, ecs, auto`}, lines: -1, emptyStdio: true},
		{name: "bad_summary", args: []string{"-r", incident, "--summary", "sometimes"}, code: 2, stderr: []string{`invalid value "sometimes" for flag -summary`}, lines: -1, emptyStdio: true},
		{name: "bad_color", args: []string{"-r", incident, "--color", "purple"}, code: 2, stderr: []string{`invalid value "purple" for flag -color`}, lines: -1, emptyStdio: true},
		{name: "bad_log_level", args: []string{"-r", incident, "--log-level", "loud"}, code: 2, stderr: []string{`invalid value "loud" for flag -log-level`}, lines: -1, emptyStdio: true},
		{name: "bad_vxlan_port", args: []string{"-r", incident, "--vxlan-port", "8472,0"}, code: 2, stderr: []string{`invalid value "8472,0" for flag -vxlan-port: "0" is not a UDP port (1-65535)`}, lines: -1, emptyStdio: true},
		{name: "no_source", args: nil, code: 2, stderr: []string{"give exactly one of -i interface or -r file"}, lines: -1, emptyStdio: true},
		{name: "two_sources", args: []string{"-i", "lo", "-r", incident}, code: 2, stderr: []string{"give exactly one of -i interface or -r file"}, lines: -1, emptyStdio: true},
		{name: "fail_on_unknown_finding", args: []string{"-r", incident, "--fail-on", "missing_sni,bogus"}, code: 2,
			stderr: []string{`unknown finding "bogus"`, "known: any, missing_sni"}, lines: -1, emptyStdio: true},

		// Runtime errors: 1, naming the file / interface / path.
		{name: "missing_file", args: []string{"-r", missing}, code: 1, stderr: []string{"hellowatch: capture: " + missing + ": offset 0: open: no such file or directory"}, lines: 0},
		{name: "directory", args: []string{"-r", aDir}, code: 1, stderr: []string{"capture: " + aDir}, lines: 0},
		{name: "not_a_capture", args: []string{"-r", notCapture}, code: 1, stderr: []string{"capture: " + notCapture + ": offset 0: not a pcap or pcapng file"}, lines: 0},
		{name: "empty_file", args: []string{"-r", empty}, code: 1, stderr: []string{"capture: " + empty + ": offset 0: empty file"}, lines: 0},
		{name: "truncated_file", args: []string{"-r", truncated, "--format", "json"}, code: 1,
			stderr: []string{"capture: " + truncated + ": offset ", "truncated"}, lines: -1},
		{name: "second_file_missing", args: []string{"-r", incident, "-r", missing, "--format", "json"}, code: 1,
			stderr: []string{"capture: " + missing}, lines: 2},
		{name: "no_such_interface", args: []string{"-i", "nosuch0"}, code: 1, stderr: []string{"nosuch0: no such interface", "interfaces:", "lo"}, lines: 0, rootOnly: true},
		// Without privileges libpcap fails before it looks the interface up.
		{name: "no_capture_permission", args: []string{"-i", "lo"}, code: 1, stderr: []string{"lo: activate: permission denied", "root", "setcap cap_net_raw,cap_net_admin=eip"}, lines: 0, nonRootOnly: true},
		// A bad filter gets libpcap's message and exit 1, as in tcpdump:
		// libpcap checks it against the link type, known once the file or
		// interface is open.
		{name: "bad_filter_file", args: []string{"-r", incident, "port", "nope"}, code: 1, stderr: []string{`bad filter "port nope"`, "unknown port 'nope'"}, lines: 0},
		{name: "bad_filter_live", args: []string{"-i", "lo", "port", "nope"}, code: 1, stderr: []string{`lo: bad filter "port nope"`, "unknown port 'nope'"}, lines: 0, rootOnly: true},
		{name: "write_no_such_dir", args: []string{"-r", incident, "-w", filepath.Join(missing, "x.pcapng")}, code: 1,
			stderr: []string{"hellowatch: -w: open " + filepath.Join(missing, "x.pcapng")}, lines: 0},
		{name: "write_to_directory", args: []string{"-r", incident, "-w", aDir}, code: 1, stderr: []string{"hellowatch: -w: open " + aDir, "is a directory"}, lines: 0},
		{name: "drop_to_unknown_user", args: []string{"-r", incident, "-Z", "no-such-user-hw"}, code: 1, stderr: []string{"-Z no-such-user-hw: user: unknown user"}, lines: 0},
		{name: "metrics_bad_address", args: []string{"-r", incident, "--metrics-addr", "127.0.0.1:notaport"}, code: 1, stderr: []string{"--metrics-addr:", "notaport"}, lines: 0},

		// --fail-on: 3 when such failures were seen, 0 otherwise.
		{name: "fail_on_present", args: []string{"-r", incident, "--fail-on", "missing_sni", "--format", "json"}, code: 3, lines: 2},
		{name: "fail_on_any_present", args: []string{"-r", mixed, "--fail-on", "any", "--format", "json"}, code: 3, lines: 4},
		{name: "fail_on_other_finding", args: []string{"-r", incident, "--fail-on", "no_response,unknown_name", "--format", "json"}, code: 0, lines: 2},
		{name: "fail_on_absent", args: []string{"-r", tls13, "--fail-on", "any", "--format", "json"}, code: 0, lines: 1},

		// Normal runs.
		{name: "count", args: []string{"-r", mixed, "-c", "1", "--format", "json"}, code: 0, lines: 1},
		{name: "count_across_files", args: []string{"-r", incident, "-r", mixed, "-c", "3", "--format", "json"}, code: 0, lines: 3},
		{name: "failures_only", args: []string{"-r", mixed, "--failures", "--format", "json"}, code: 0, stdout: []string{`"outcome":"server_alert"`}, lines: 2},
		{name: "several_files", args: []string{"-r", incident, "-r", mixed, "--format", "json"}, code: 0, lines: 6},
		{name: "gzip", args: []string{"-r", gzipped, "--format", "json"}, code: 0, lines: 2},
		{name: "filter_words", args: []string{"-r", mixed, "--format", "json", "tcp", "port", "8443"}, code: 0, lines: 4},
		{name: "filter_excludes", args: []string{"-r", mixed, "--format", "json", "port", "443"}, code: 0, lines: 0},
		{name: "version", args: []string{"--version"}, code: 0, stdout: []string{"hellowatch " + getVersion() + "\n"}, lines: -1},
		{name: "help", args: []string{"-h"}, code: 0, stderr: []string{"Usage: hellowatch", "-fail-on", "HELLOWATCH_", "Exit codes: 0 ok, 1 runtime error, 2 usage, 3"}, lines: -1, emptyStdio: true},
		{name: "list_interfaces", args: []string{"-D"}, code: 0, lines: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.rootOnly {
				sidecarNeedRoot(t)
			}
			if tc.nonRootOnly && os.Geteuid() == 0 {
				t.Skip("skipped: checks the message without capture privileges; runs when not root")
			}
			stdout, stderr, code := envRun(t, nil, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstderr:\n%s\nstdout:\n%.400s", code, tc.code, stderr, stdout)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%.400s", s, stdout)
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
			if tc.emptyStdio && stdout != "" {
				t.Errorf("stdout not empty:\n%.400s", stdout)
			}
			if tc.lines >= 0 {
				if n := checkJSONLines(t, tc.name, stdout); n != tc.lines {
					t.Errorf("%d JSON lines, want %d", n, tc.lines)
				}
			}
			if strings.HasPrefix(tc.name, "failures") {
				for _, oc := range jsonOutcomes(stdout) {
					if oc == "established" {
						t.Errorf("--failures printed an established handshake:\n%s", stdout)
					}
				}
			}
			if tc.name == "list_interfaces" && !regexp.MustCompile(`(?m)^\d+\.lo( |$)`).MatchString(stdout) {
				t.Errorf("-D does not list lo:\n%s", stdout)
			}
		})
	}
}

// TestReadStdin: -r - reads a capture from standard input and gives the same
// records as the file.
func TestReadStdin(t *testing.T) {
	for _, name := range []string{"incident-missing-sni.pcap", "pcapng-mixed.pcapng"} {
		t.Run(name, func(t *testing.T) {
			want, _, code := envRun(t, nil, "-r", sample(name), "--format", "json")
			if code != 0 {
				t.Fatalf("-r %s: exit %d", name, code)
			}
			f, err := os.Open(sample(name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			p := startHellowatch(t, f, "-r", "-", "--format", "json")
			code, ok := p.Exited(10 * time.Second)
			if !ok {
				t.Fatal("hellowatch -r - did not finish within 10 s")
			}
			if code != 0 || p.Stdout.String() != want {
				t.Errorf("-r - < %s: exit %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", name, code, p.Stdout.String(), want, p.Stderr.String())
			}
		})
	}
	t.Run("not_a_capture", func(t *testing.T) {
		p := startHellowatch(t, strings.NewReader("GET / HTTP/1.1\r\n\r\n"), "-r", "-")
		code, ok := p.Exited(10 * time.Second)
		if !ok {
			t.Fatal("hellowatch -r - did not finish within 10 s")
		}
		if code != 1 || !strings.Contains(p.Stderr.String(), "capture: -: offset 0: not a pcap or pcapng file") {
			t.Errorf("exit %d, stderr %q; want 1 naming standard input", code, p.Stderr.String())
		}
	})
}

// TestMetricsServerClosed: a run with --metrics-addr closes its listener
// when it returns (the port is free again), so a process that embeds the
// command, or a test, does not leak it.
func TestMetricsServerClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, stderr, code := runCmd(t, "-r", filepath.Join("..", "..", "samples", "incident-missing-sni.pcap"), "--metrics-addr", addr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("metrics port %s still taken after the run returned: %v", addr, err)
	}
	ln.Close()
}
