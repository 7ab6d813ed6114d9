package main

// What the command's tests share: running hellowatch as a subprocess (this
// test binary in hellowatch mode, or a built binary) and reading its JSON
// lines against the contract, report.JSONKeys. The process plumbing
// itself is internal/testkit's; /metrics is internal/testkit/metrics'.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hellowatch/hellowatch/internal/testkit"
	"github.com/hellowatch/hellowatch/report"
)

// sidecarAsMainEnv makes the test binary behave as the hellowatch command.
const sidecarAsMainEnv = "HW_TEST_RUN_AS_HELLOWATCH"

// With sidecarAsMainEnv set, init runs hellowatch's run() on the process's
// arguments and exits, exactly as main does, so no go build is needed.
func init() {
	if os.Getenv(sidecarAsMainEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
}

// sidecarNeedRoot skips a live test when the process cannot capture.
func sidecarNeedRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root to capture live on lo (./scripts/test.sh runs it as root)")
	}
}

// envRun runs hellowatch in-process with the environment variables in env
// (every other HELLOWATCH_* variable cleared).
func envRun(t *testing.T, env map[string]string, args ...string) (string, string, int) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "HELLOWATCH_") {
			t.Setenv(k, "")
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	t.Setenv("NO_COLOR", "1")
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

// runCmd runs the command in-process (see envRun) and returns stdout,
// stderr and the exit code.
func runCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return envRun(t, nil, args...)
}

// hellowatchEnv is the environment in which this test binary is
// hellowatch (testkit.Env and sidecarAsMainEnv).
func hellowatchEnv() []string { return testkit.Env(sidecarAsMainEnv + "=1") }

// startHellowatch starts this test binary as hellowatch with args and the
// environment of testkit.Env; it is ended at cleanup if the test has not.
func startHellowatch(t *testing.T, stdin io.Reader, args ...string) *testkit.Proc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = hellowatchEnv()
	cmd.Stdin = stdin
	return testkit.Start(t, cmd)
}

// startBin starts the built binary bin with args (see startHellowatch).
func startBin(t *testing.T, bin string, args ...string) *testkit.Proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = testkit.Env()
	return testkit.Start(t, cmd)
}

// startLive starts hellowatch on lo with JSON output, JSON logs and metrics
// on a free port, waits until it captures, and returns it with the metrics
// base URL.
func startLive(t *testing.T, filter string, extra ...string) (*testkit.Proc, string) {
	t.Helper()
	args := append([]string{"-i", "lo", "--format", "json", "--log-format", "json",
		"--metrics-addr", "127.0.0.1:0"}, extra...)
	p := startHellowatch(t, nil, append(args, filter)...)
	addr, _ := p.LogLine(t, "serving metrics", 5*time.Second)["addr"].(string)
	if addr == "" {
		t.Fatalf("no metrics address logged:\n%s", p.Stderr.String())
	}
	p.LogLine(t, "capturing", 5*time.Second)
	// The filter is set before "capturing" is logged; a short pause lets the
	// kernel's capture ring settle before the first packet of the test.
	time.Sleep(150 * time.Millisecond)
	return p, "http://" + addr
}

// forJSONLines reads JSON output: each line of r must be a JSON object in
// valid UTF-8, either a handshake holding every key of the contract
// (report.JSONKeys), for which fn is called, or the summary line
// ("type":"summary", see the README). It fails the test at the first line
// that is neither, naming it (what names the output in messages), and
// returns the number of handshake lines and the summary lines' fields.
func forJSONLines(t *testing.T, what string, r io.Reader, fn func(n int, line []byte, m map[string]json.RawMessage)) (records int, summaries []map[string]json.RawMessage) {
	t.Helper()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if !utf8.Valid(line) {
			t.Fatalf("%s line %d is not UTF-8: %.300q", what, n, line)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("%s line %d is not a JSON object: %v: %.300q", what, n, err, line)
		}
		if typ, ok := m["type"]; ok {
			if string(typ) != `"summary"` || string(m["schema"]) != `"`+report.Schema+`"` {
				t.Fatalf("%s line %d is neither a handshake nor the summary: %.300s", what, n, line)
			}
			summaries = append(summaries, m)
			continue
		}
		for _, k := range report.JSONKeys {
			if _, ok := m[k]; !ok {
				t.Fatalf("%s line %d lacks key %q: %.300s", what, n, k, line)
			}
		}
		records++
		if fn != nil {
			fn(n, line, m)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return records, summaries
}

// checkJSONLines checks every line of out against the contract (see
// forJSONLines) and returns the number of handshake lines.
func checkJSONLines(t *testing.T, name, out string) int {
	t.Helper()
	n, _ := forJSONLines(t, name, strings.NewReader(out), nil)
	return n
}

// records returns the handshake lines p printed so far, decoded, each
// checked against the contract (the summary line is left out).
func records(t *testing.T, p *testkit.Proc) []map[string]any {
	t.Helper()
	var b strings.Builder
	for _, l := range p.Stdout.Lines() { // complete lines only
		b.WriteString(l.Text + "\n")
	}
	var out []map[string]any
	forJSONLines(t, "stdout", strings.NewReader(b.String()), func(n int, line []byte, _ map[string]json.RawMessage) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("stdout line %d: %v", n, err)
		}
		out = append(out, m)
	})
	return out
}

// waitRecords polls p's stdout until it holds n records or d has passed.
func waitRecords(t *testing.T, p *testkit.Proc, n int, d time.Duration) []map[string]any {
	t.Helper()
	var recs []map[string]any
	testkit.Poll(d, func() bool {
		recs = records(t, p)
		return len(recs) >= n
	})
	return recs
}
