package main

// Hostile-input tests (issue 8): adversarial captures made by
// internal/hostile are fed to the real binary, built once with go build and
// run as a subprocess so that its peak RSS can be measured
// (getrusage's ru_maxrss of the child).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hellowatch/hellowatch/internal/hostile"
)

// buildHellowatch builds the command into a temporary directory once per
// test binary run and returns the path. The directory is removed by the
// first test that asked for it, at its end, so callers share it within one
// top-level test only; later tests build again (go's cache makes that a
// link step).
func buildHellowatch(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("skipped: the go tool is not in PATH, cannot build the binary")
	}
	bin := filepath.Join(t.TempDir(), "hellowatch")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runResult is what one run of the binary produced.
type runResult struct {
	code           int
	stdout, stderr []byte
	maxRSS         int64 // KiB: the child's VmHWM, sampled every 2 ms until it exits
	ruMaxRSS       int64 // KiB: getrusage's ru_maxrss, an upper bound (includes our RSS)
	wall           time.Duration
}

// runBinary runs bin with args and a deadline, and returns its output, exit
// code and peak RSS.
func runBinary(t *testing.T, bin string, timeout time.Duration, args ...string) runResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = cleanEnv()
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	// ru_maxrss of a child started with vfork (as os/exec does) includes
	// the parent's RSS at exec time, so the peak is read from the child's
	// own high-water mark instead, until it exits.
	done := make(chan struct{})
	hwm := make(chan int64, 1)
	go func() {
		var peak int64
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			if v := vmHWM(cmd.Process.Pid); v > peak {
				peak = v
			}
			select {
			case <-done:
				hwm <- peak
				return
			case <-tick.C:
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	r := runResult{stdout: so.Bytes(), stderr: se.Bytes(), wall: time.Since(start), maxRSS: <-hwm}
	if ctx.Err() != nil {
		t.Fatalf("hellowatch %s: still running after %v (killed)\nstderr: %s", strings.Join(args, " "), timeout, tail(se.Bytes()))
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run: %v", err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.ruMaxRSS = ru.Maxrss
	}
	checkNoPanic(t, r.stderr)
	return r
}

// vmHWM returns the peak resident set size (KiB) of process pid, or 0
// once it has exited.
func vmHWM(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// cleanEnv is our environment without HELLOWATCH_* variables, so that the
// caller's shell cannot change a test, and with NO_COLOR.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HELLOWATCH_") {
			env = append(env, kv)
		}
	}
	return append(env, "NO_COLOR=1")
}

// checkNoPanic fails on a Go panic or fatal error trace.
func checkNoPanic(t *testing.T, stderr []byte) {
	t.Helper()
	for _, s := range []string{"panic:", "goroutine ", "fatal error:", "runtime error"} {
		if bytes.Contains(stderr, []byte(s)) {
			t.Fatalf("stderr holds %q:\n%s", s, tail(stderr))
		}
	}
}

// tail returns the last 2 KiB of b, for failure messages.
func tail(b []byte) string {
	if len(b) > 2048 {
		b = b[len(b)-2048:]
	}
	return string(b)
}

// summary is what the end summary on stderr says.
type summary struct {
	handshakes, tlsFlows, nonTLSFlows, packets int
	evicted, skipped                           map[string]int
}

var (
	sumHeadRE    = regexp.MustCompile(`== hellowatch summary: (\d+) handshakes`)
	sumCaptureRE = regexp.MustCompile(`packets (\d+), bytes \d+, TLS flows (\d+), non-TLS flows (\d+)`)
	sumReasonsRE = regexp.MustCompile(`(?m)^  (evicted flows|skipped packets): (.*)$`)
)

// parseSummary reads the end summary (--summary always) from stderr.
func parseSummary(t *testing.T, stderr []byte) summary {
	t.Helper()
	s := summary{evicted: map[string]int{}, skipped: map[string]int{}}
	m := sumHeadRE.FindSubmatch(stderr)
	c := sumCaptureRE.FindSubmatch(stderr)
	if m == nil || c == nil {
		t.Fatalf("no summary on stderr:\n%s", tail(stderr))
	}
	s.handshakes, _ = strconv.Atoi(string(m[1]))
	s.packets, _ = strconv.Atoi(string(c[1]))
	s.tlsFlows, _ = strconv.Atoi(string(c[2]))
	s.nonTLSFlows, _ = strconv.Atoi(string(c[3]))
	for _, r := range sumReasonsRE.FindAllSubmatch(stderr, -1) {
		dst := s.evicted
		if string(r[1]) == "skipped packets" {
			dst = s.skipped
		}
		for _, part := range strings.Split(string(r[2]), ", ") {
			name, n, ok := strings.Cut(part, " ")
			v, err := strconv.Atoi(n)
			if !ok || err != nil {
				t.Fatalf("summary reason %q", part)
			}
			dst[name] = v
		}
	}
	return s
}

// jsonLines checks that stdout is one valid JSON object per line and
// returns them.
func jsonLines(t *testing.T, stdout []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !utf8.Valid(line) {
			t.Fatalf("line %d is not UTF-8: %q", len(out)+1, line)
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("line %d is not a JSON object: %v: %.300q", len(out)+1, err, line)
		}
		if m["type"] == "summary" {
			continue // the summary line (--summary always)
		}
		for _, k := range []string{"ts", "client", "server", "server_name", "outcome", "ambiguous", "gap"} {
			if _, ok := m[k]; !ok {
				t.Fatalf("line %d has no %q: %.300s", len(out)+1, k, line)
			}
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkText fails when text output holds a control byte other than a
// newline (ESC, BEL, CR, C1 as UTF-8 are all escaped by the writer), and
// returns the number of record lines (those not indented).
func checkText(t *testing.T, stdout []byte) int {
	t.Helper()
	if !utf8.Valid(stdout) {
		t.Fatalf("text output is not UTF-8: %q", stdout)
	}
	for i, r := range string(stdout) {
		if (r < 0x20 && r != '\n') || (r >= 0x7f && r < 0xa0) || r == '\u202e' {
			t.Fatalf("text output holds control character %U at byte %d: %q", r, i, stdout)
		}
	}
	n := 0
	for _, l := range strings.Split(strings.TrimSuffix(string(stdout), "\n"), "\n") {
		if l != "" && l[0] != ' ' {
			n++
		}
	}
	return n
}

// hostileCase is one adversarial capture and what the binary must do.
type hostileCase struct {
	name  string
	write func(w *bufio.Writer) error
	args  []string // besides -r file --format json --summary always
	// maxRSSMiB is the bound on the process's peak RSS.
	maxRSSMiB int64
	check     func(t *testing.T, s summary, recs []map[string]any)
}

// writeCapture writes a scenario's capture into dir.
func writeCapture(t *testing.T, dir, name string, write func(w *bufio.Writer) error) string {
	t.Helper()
	path := filepath.Join(dir, name+".pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := write(bw); err != nil {
		t.Fatalf("generate %s: %v", name, err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// outcomes counts the records by outcome.
func outcomes(recs []map[string]any) map[string]int {
	m := map[string]int{}
	for _, r := range recs {
		m[fmt.Sprint(r["outcome"])]++
	}
	return m
}

const synFlood = 1_000_000

const quicFlood = 100_000

func hostileCases() []hostileCase {
	return []hostileCase{
		{
			name:      "syn-flood-capped",
			write:     func(w *bufio.Writer) error { return hostile.SYNFlood(synFlood)(w) },
			args:      []string{"--max-flows", "10000"},
			maxRSSMiB: 64,
			check: func(t *testing.T, s summary, recs []map[string]any) {
				if len(recs) != 0 || s.packets != synFlood {
					t.Errorf("%d records, %d packets", len(recs), s.packets)
				}
				if got, want := s.evicted["flow_limit"], synFlood-10000; got != want {
					t.Errorf("evicted flow_limit %d, want %d (every SYN past the cap)", got, want)
				}
			},
		},
		{
			name:      "syn-flood-default-cap",
			write:     func(w *bufio.Writer) error { return hostile.SYNFlood(synFlood)(w) },
			maxRSSMiB: 256, // README: the defaults keep a busy host well under 256 MiB
			check: func(t *testing.T, s summary, recs []map[string]any) {
				if got, want := s.evicted["flow_limit"], synFlood-262144; got != want {
					t.Errorf("evicted flow_limit %d, want %d", got, want)
				}
			},
		},
		{
			name: "holes",
			// 1000 flows × 32 KB held behind a hole: 32 MB uncapped, 4 MiB
			// allowed. The rest of the peak is the runtime and the file
			// reader's 4 MiB buffers in flight to the workers.
			write:     func(w *bufio.Writer) error { return hostile.Holes(1000, 64, 1000)(w) },
			args:      []string{"--max-buffer", "4194304"},
			maxRSSMiB: 80,
			check: func(t *testing.T, s summary, recs []map[string]any) {
				if len(recs) != 1000 {
					t.Errorf("%d records, want 1000 (one per hello)", len(recs))
				}
				if s.evicted["buffer_limit"] == 0 {
					t.Errorf("no buffer_limit eviction: %v", s.evicted)
				}
				for _, r := range recs {
					if r["outcome"] != "incomplete" || r["gap"] != true {
						t.Fatalf("record %v: want incomplete with a gap", r)
					}
				}
			},
		},
		{
			// 100,000 authentic QUIC Initials, each with a CRYPTO frame at
			// offset 60000: 126 MB of datagrams that made hellowatch hold
			// 7.0 GB (peak RSS) before CRYPTO bytes counted against
			// --max-buffer. Now: the 100,000 decided flows' table entries,
			// 16 MiB of CRYPTO buffers and the file reader's buffers.
			name:      "quic-far-crypto",
			write:     func(w *bufio.Writer) error { return hostile.QUICCryptoFlood(quicFlood, 60000)(w) },
			args:      []string{"--max-buffer", "16777216"},
			maxRSSMiB: 192,
			check: func(t *testing.T, s summary, recs []map[string]any) {
				if len(recs) != quicFlood || s.tlsFlows != quicFlood {
					t.Errorf("%d records, %d TLS flows, want %d", len(recs), s.tlsFlows, quicFlood)
				}
				if s.evicted["buffer_limit"] == 0 {
					t.Errorf("no buffer_limit eviction: %v", s.evicted)
				}
				for _, r := range recs {
					if r["transport"] != "quic" || r["outcome"] != "incomplete" {
						t.Fatalf("record %v: want an incomplete QUIC handshake", r)
					}
				}
			},
		},
		{
			// 100,000 authentic QUIC Initials starting ClientHellos that
			// never end, with the default caps: each connection's state
			// (~7 KB with its Initial keys) counts against --max-buffer,
			// so about 9,400 are followed and the rest refused before
			// their keys are derived. Before: 100,000 × 7 KB held, 1.5 GB
			// peak RSS for 262,144 of them.
			name:      "quic-initial-flood",
			write:     func(w *bufio.Writer) error { return hostile.QUICCryptoFlood(quicFlood, 0)(w) },
			maxRSSMiB: 256, // README: the defaults keep a busy host well under 256 MiB
			check: func(t *testing.T, s summary, recs []map[string]any) {
				if len(recs) == 0 || len(recs) != s.tlsFlows || s.evicted["buffer_limit"] == 0 {
					t.Errorf("%d records, %d TLS flows, evicted %v", len(recs), s.tlsFlows, s.evicted)
				}
				if got := len(recs) + s.evicted["buffer_limit"]; got != quicFlood {
					t.Errorf("%d records + %d refused = %d, want one per Initial (%d)", len(recs), s.evicted["buffer_limit"], got, quicFlood)
				}
			},
		},
		{
			// The TCP form: 200,000 connections each sending the start of
			// a ClientHello (1000 bytes of 60 KB) and nothing more, with
			// the default caps: state and held bytes count against
			// --max-buffer, so about 21,000 are followed at once.
			name:      "tcp-partial-hellos",
			write:     func(w *bufio.Writer) error { return hostile.PartialHellos(200_000)(w) },
			maxRSSMiB: 256, // README: the defaults keep a busy host well under 256 MiB
			check: func(t *testing.T, s summary, recs []map[string]any) {
				if len(recs) == 0 || s.evicted["buffer_limit"] == 0 {
					t.Errorf("%d records, evicted %v", len(recs), s.evicted)
				}
				if got := len(recs) + s.evicted["buffer_limit"]; got != 200_000 {
					t.Errorf("%d records + %d refused = %d, want one per connection (200000)", len(recs), s.evicted["buffer_limit"], got)
				}
			},
		},
		{
			name:      "reverse-tiny-segments",
			write:     func(w *bufio.Writer) error { return hostile.ReverseTiny(4, 100_000)(w) },
			maxRSSMiB: 64,
			check: func(t *testing.T, s summary, recs []map[string]any) {
				if len(recs) != 4 {
					t.Errorf("%d records, want 4", len(recs))
				}
			},
		},
		{
			name:      "hello-claims-16MB",
			write:     func(w *bufio.Writer) error { return hostile.HugeHello(4 << 20)(w) },
			maxRSSMiB: 48,
			check: func(t *testing.T, s summary, recs []map[string]any) {
				if len(recs) != 1 {
					t.Fatalf("%d records, want 1", len(recs))
				}
				if recs[0]["client_hello_error"] == nil {
					t.Errorf("no client_hello_error: %v", recs[0])
				}
			},
		},
		{
			name:      "lying-lengths",
			write:     func(w *bufio.Writer) error { return hostile.LyingLengths()(w) },
			maxRSSMiB: 48,
			check: func(t *testing.T, s summary, recs []map[string]any) {
				if s.tlsFlows+s.nonTLSFlows != hostile.LieCount() || len(recs) != s.tlsFlows {
					t.Errorf("%d flows: %d TLS, %d not TLS, %d records", hostile.LieCount(), s.tlsFlows, s.nonTLSFlows, len(recs))
				}
			},
		},
		{
			name:      "10000-extensions",
			write:     func(w *bufio.Writer) error { return hostile.ManyExtensions(10000)(w) },
			maxRSSMiB: 48,
			check: func(t *testing.T, s summary, recs []map[string]any) {
				if len(recs) != 1 || recs[0]["server_name"] != "many.example" || recs[0]["outcome"] != "server_alert" {
					t.Errorf("records %.500v", recs)
				}
			},
		},
		{
			name:      "escape-sni",
			write:     func(w *bufio.Writer) error { return hostile.EscapeSNI()(w) },
			maxRSSMiB: 48,
			check: func(t *testing.T, s summary, recs []map[string]any) {
				if len(recs) != len(hostile.EscapeSNIs) {
					t.Fatalf("%d records, want %d", len(recs), len(hostile.EscapeSNIs))
				}
				for i, sni := range hostile.EscapeSNIs {
					if utf8.Valid(sni) && !bytes.ContainsRune(sni, '\\') && recs[i]["server_name"] != string(sni) {
						t.Errorf("server_name %q, sent %q", recs[i]["server_name"], sni)
					}
				}
			},
		},
		{
			name:      "zero-length-records",
			write:     func(w *bufio.Writer) error { return hostile.ZeroRecords(200_000)(w) },
			maxRSSMiB: 48,
			check: func(t *testing.T, s summary, recs []map[string]any) {
				if s.tlsFlows+s.nonTLSFlows != 3 || len(recs) != s.tlsFlows {
					t.Errorf("3 flows: %d TLS, %d not TLS, %d records", s.tlsFlows, s.nonTLSFlows, len(recs))
				}
			},
		},
		{
			name:      "retransmit-different-bytes",
			write:     func(w *bufio.Writer) error { return hostile.Retransmit()(w) },
			maxRSSMiB: 48,
			check: func(t *testing.T, s summary, recs []map[string]any) {
				if len(recs) != 2 {
					t.Fatalf("%d records, want 2", len(recs))
				}
				for _, r := range recs {
					if r["ambiguous"] != true {
						t.Errorf("retransmission with other bytes not reported: %v", r)
					}
					if r["server_name"] != hostile.RetransmitNames[0] {
						t.Errorf("server_name %v, want the first copy %q", r["server_name"], hostile.RetransmitNames[0])
					}
				}
			},
		},
	}
}

// TestHostileCaptures runs the binary on every adversarial capture, in JSON
// and in text, and checks exit code, panics, peak RSS, the drop counts in
// the summary and the output's form.
func TestHostileCaptures(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: generates and reads ~150 MB of captures")
	}
	bin := buildHellowatch(t)
	dir := t.TempDir()
	var mu sync.Mutex
	var notes []string
	for _, c := range hostileCases() {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			path := writeCapture(t, dir, c.name, c.write)
			st, _ := os.Stat(path)
			gen := time.Since(start)
			args := append([]string{"-r", path, "--format", "json", "--summary", "always"}, c.args...)
			r := runBinary(t, bin, 60*time.Second, args...)
			defer os.Remove(path)
			if r.code != exitOK {
				t.Fatalf("exit %d, want 0\nstderr: %s", r.code, tail(r.stderr))
			}
			recs := jsonLines(t, r.stdout)
			s := parseSummary(t, r.stderr)
			if s.handshakes != len(recs) {
				t.Errorf("summary says %d handshakes, %d JSON lines", s.handshakes, len(recs))
			}
			c.check(t, s, recs)
			rssMiB := r.maxRSS >> 10
			if rssMiB > c.maxRSSMiB {
				t.Errorf("peak RSS %d MiB, bound %d MiB (args %v)", rssMiB, c.maxRSSMiB, c.args)
			}
			// The same capture in text: no control bytes, one unindented
			// line per handshake.
			rt := runBinary(t, bin, 60*time.Second, append([]string{"-r", path, "--format", "text", "--summary", "never"}, c.args...)...)
			if rt.code != exitOK {
				t.Fatalf("text: exit %d\nstderr: %s", rt.code, tail(rt.stderr))
			}
			if n := checkText(t, rt.stdout); n != len(recs) {
				t.Errorf("text: %d record lines, JSON: %d", n, len(recs))
			}
			note := fmt.Sprintf("%-28s %6.1f MB, %8d packets, gen %v, run %v, peak RSS %d MiB (bound %d, ru_maxrss %d MiB, args %v), outcomes %v, evicted %v, skipped %v, TLS %d, non-TLS %d",
				c.name, float64(st.Size())/1e6, s.packets, gen.Round(time.Millisecond), r.wall.Round(time.Millisecond),
				rssMiB, c.maxRSSMiB, r.ruMaxRSS>>10, c.args, outcomes(recs), s.evicted, s.skipped, s.tlsFlows, s.nonTLSFlows)
			t.Log(note)
			mu.Lock()
			notes = append(notes, note)
			mu.Unlock()
		})
	}
	for _, n := range notes {
		t.Log(n)
	}
}
