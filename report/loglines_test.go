package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestLogLines: the user's nginx lines go into "log_lines" as recoverable
// wire bytes, and into the text output instead of the canned line.
func TestLogLines(t *testing.T) {
	s := samples()[0] // missing_sni, with a canned nginx log line
	fs := findings(s.h)
	evil := "2026/11/26 10:00:00 [error] 1#1: *2 SSL_do_handshake() failed, request: \"GET /\x1b[2J\xff\\ HTTP/1.1\""
	lines := []LogLine{{File: "/var/log/nginx/error.log", Line: 42, Text: evil}}
	line := AppendJSONLines(nil, s.h, fs, lines)
	var m struct {
		LogLines []struct {
			File string `json:"file"`
			Line int64  `json:"line"`
			Text string `json:"text"`
		} `json:"log_lines"`
	}
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, line)
	}
	if len(m.LogLines) != 1 || m.LogLines[0].File != lines[0].File || m.LogLines[0].Line != 42 {
		t.Fatalf("log_lines %+v", m.LogLines)
	}
	if got, want := m.LogLines[0].Text, strings.NewReplacer(`\`, `\\`, "\xff", `\xff`).Replace(evil); got != want {
		t.Errorf("text %q, want the wire escaping %q", got, want)
	}
	noRawControls(t, line, false)

	var buf bytes.Buffer
	tw := NewTextWriter(&buf, false)
	if err := tw.WriteLines(s.h, fs, lines); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "      nginx log (/var/log/nginx/error.log:42): 2026/11/26 10:00:00 [error]") {
		t.Errorf("text output lacks the user's line:\n%s", out)
	}
	if strings.Contains(out, "nginx log: ") || strings.Contains(out, "\x1b") {
		t.Errorf("canned line kept or raw escape written:\n%q", out)
	}
	// Without lines, the canned one stays.
	buf.Reset()
	tw.Write(s.h, fs)
	if !strings.Contains(buf.String(), "nginx log: SSL_do_handshake() failed") {
		t.Errorf("canned line missing:\n%s", buf.String())
	}
}
