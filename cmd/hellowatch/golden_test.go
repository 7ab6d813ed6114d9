package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// samples returns every capture shipped in samples/.
func samples(t *testing.T) []string {
	var out []string
	for _, pat := range []string{"*.pcap", "*.pcapng", "*.pcap.gz"} {
		m, err := filepath.Glob(filepath.Join("..", "..", "samples", pat))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m...)
	}
	if len(out) == 0 {
		t.Fatal("no captures in samples/")
	}
	return out
}

// runCmd runs the command in-process and returns stdout, stderr and the
// exit code.
func runCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	t.Setenv("NO_COLOR", "1")
	code := run(args, &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

func checkGolden(t *testing.T, name string, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (go test -update if intended)\n--- want\n%s\n--- got\n%s", name, want, got)
	}
}

// contractKeys are the keys DESIGN.md promises in every JSON line.
var contractKeys = []string{"ts", "client", "server", "server_name", "client_versions", "version",
	"cipher", "alpn", "next_protocol", "ja3", "ja4", "alerts", "outcome", "established", "findings", "history"}

// checkJSONLines asserts that every line is a JSON object with the contract's keys.
func checkJSONLines(t *testing.T, name, out string) int {
	t.Helper()
	n := 0
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		n++
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s line %d is not JSON: %v\n%s", name, n, err, sc.Text())
		}
		for _, k := range contractKeys {
			if _, ok := m[k]; !ok {
				t.Errorf("%s line %d lacks key %q", name, n, k)
			}
		}
	}
	return n
}

// TestSamplesGolden runs hellowatch on every shipped sample, in text and
// JSON, against goldens in testdata/golden (regenerated with -update).
func TestSamplesGolden(t *testing.T) {
	for _, path := range samples(t) {
		base := filepath.Base(path)
		t.Run(base, func(t *testing.T) {
			out, errOut, code := runCmd(t, "-r", path, "--format", "json", "--summary", "never")
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			// (The tunnel samples' flows are inside encapsulations that
			// link decoding does not open yet.)
			if n := checkJSONLines(t, base, out); n == 0 && !strings.HasPrefix(base, "tunnel-") {
				t.Errorf("%s: no handshake reported", base)
			}
			checkGolden(t, base+".jsonl", out)

			text, errOut, code := runCmd(t, "-r", path, "--format", "text", "--summary", "always", "--color", "never")
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			// The summary's duration and rate depend on the machine.
			checkGolden(t, base+".txt", text+stripTiming(errOut))
		})
	}
}

// stripTiming removes the run-dependent parts of the summary.
func stripTiming(s string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		if i := strings.Index(line, ", duration "); i >= 0 {
			line = line[:i] + "\n"
		}
		b.WriteString(line)
	}
	return b.String()
}

// TestIncidentDiagnosis pins the headline: the incident sample yields the
// missing_sni finding with the nginx fix.
func TestIncidentDiagnosis(t *testing.T) {
	out, _, code := runCmd(t, "-r", filepath.Join("..", "..", "samples", "incident-missing-sni.pcap"), "--format", "json")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) == 0 || lines[0] == "" {
		t.Fatal("no records")
	}
	for _, l := range lines {
		var rec struct {
			ServerName *string `json:"server_name"`
			Outcome    string  `json:"outcome"`
			Alerts     []struct {
				Sender string `json:"sender"`
				Level  string `json:"level"`
				Code   int    `json:"code"`
			} `json:"alerts"`
			Findings []struct {
				ID   string `json:"id"`
				Hint string `json:"hint"`
			} `json:"findings"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.ServerName != nil {
			t.Errorf("server_name = %q, want null", *rec.ServerName)
		}
		if rec.Outcome != "server_alert" || len(rec.Alerts) != 1 || rec.Alerts[0].Sender != "server" || rec.Alerts[0].Code != 40 || rec.Alerts[0].Level != "fatal" {
			t.Errorf("outcome %s alerts %+v, want a fatal handshake_failure from the server", rec.Outcome, rec.Alerts)
		}
		if len(rec.Findings) == 0 || rec.Findings[0].ID != "missing_sni" || !strings.Contains(rec.Findings[0].Hint, "proxy_ssl_server_name on;") {
			t.Errorf("findings %+v, want missing_sni with the nginx hint", rec.Findings)
		}
	}
}
