package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hellowatch/hellowatch/internal/testkit"
)

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

// sampleArgs are the flags a sample needs besides -r: Flannel's VXLAN
// runs on 8472, not the IANA port.
var sampleArgs = map[string][]string{
	"tunnel-vxlan-flannel.pcap": {"--vxlan-port", "8472"},
}

// TestSamplesGolden runs hellowatch on every shipped sample, in text and
// JSON, against goldens in testdata/golden (regenerated with -update).
func TestSamplesGolden(t *testing.T) {
	for _, path := range samples(t) {
		base := filepath.Base(path)
		t.Run(base, func(t *testing.T) {
			extra := sampleArgs[base]
			out, errOut, code := runCmd(t, append([]string{"-r", path, "--format", "json", "--summary", "never"}, extra...)...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if n := checkJSONLines(t, base, out); n == 0 {
				t.Errorf("%s: no handshake reported", base)
			}
			testkit.Golden(t, filepath.Join("testdata", "golden", base+".jsonl"), []byte(out))

			text, errOut, code := runCmd(t, append([]string{"-r", path, "--format", "text", "--summary", "always", "--color", "never"}, extra...)...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			// The summary's duration and rate depend on the machine.
			testkit.Golden(t, filepath.Join("testdata", "golden", base+".txt"), []byte(text+stripTiming(errOut)))
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
