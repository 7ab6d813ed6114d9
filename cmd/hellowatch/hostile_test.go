package main

// Hostile-input tests (issue 8): adversarial captures made by
// internal/hostile are fed to the real binary, built once with go build and
// run as a subprocess so that its peak RSS can be measured (VmHWM of the
// child). The captures are written by the hostilegen command, built
// without the race detector, each once and straight to a file; the
// binary's output goes to files too and is read a line at a time, so that
// the test binary (under -race in CI) holds no capture and no output.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hellowatch/hellowatch/internal/hostile"
	"github.com/hellowatch/hellowatch/internal/testkit"
)

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
		t.Fatalf("no summary on stderr:\n%s", testkit.LastLines(string(stderr), 20))
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

// hostileCase is one adversarial capture and what the binary must do.
type hostileCase struct {
	name    string
	capture string   // the name of the capture in hostile.Captures
	args    []string // besides -r file --format json --summary always
	// maxRSSMiB is the bound on the process's peak RSS.
	maxRSSMiB int64
	check     func(t *testing.T, s summary, recs []hsRecord)
}

// hsRecord is what the checks look at in one JSON line; the values are as
// decoded into any (nil for null).
type hsRecord struct {
	Outcome, Transport, ServerName, ClientHelloError any
	Gap, Ambiguous                                   bool
}

// readRecords checks that r holds one JSON object per line, valid UTF-8,
// each a handshake with every key of the contract, then the summary line
// (--summary always) counting them; it returns what the checks use.
func readRecords(t *testing.T, r io.Reader) []hsRecord {
	t.Helper()
	var out []hsRecord
	_, sums := forJSONLines(t, "stdout", r, func(n int, line []byte, m map[string]json.RawMessage) {
		var h hsRecord
		for k, dst := range map[string]*any{"outcome": &h.Outcome, "transport": &h.Transport,
			"server_name": &h.ServerName, "client_hello_error": &h.ClientHelloError} {
			if err := json.Unmarshal(m[k], dst); err != nil {
				t.Fatalf("line %d: %s: %v", n, k, err)
			}
		}
		h.Gap = string(m["gap"]) == "true"
		h.Ambiguous = string(m["ambiguous"]) == "true"
		out = append(out, h)
	})
	if len(sums) != 1 || string(sums[0]["handshakes"]) != strconv.Itoa(len(out)) {
		t.Fatalf("%d handshake lines, summary lines %v: want one, counting them", len(out), sums)
	}
	return out
}

// checkText fails when text output holds a control byte other than a
// newline (ESC, BEL, CR, C1 as UTF-8 are all escaped by the writer), and
// returns the number of record lines (those not indented).
func checkText(t *testing.T, r io.Reader) int {
	t.Helper()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	n := 0
	for line := 1; sc.Scan(); line++ {
		l := sc.Text()
		if !utf8.ValidString(l) {
			t.Fatalf("text line %d is not UTF-8: %q", line, l)
		}
		for i, r := range l {
			if r < 0x20 || (r >= 0x7f && r < 0xa0) || r == '\u202e' {
				t.Fatalf("text line %d holds control character %U at byte %d: %q", line, r, i, l)
			}
		}
		if l != "" && l[0] != ' ' {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// outcomes counts the records by outcome.
func outcomes(recs []hsRecord) map[string]int {
	m := map[string]int{}
	for _, r := range recs {
		m[fmt.Sprint(r.Outcome)]++
	}
	return m
}

// captureFiles writes hostile captures into a directory with hostilegen,
// each the first time it is asked for, and removes each after its last
// user is done.
type captureFiles struct {
	gen, dir string
	users    map[string]int // cases still to read the capture
}

// get returns the path of the capture name, writing it if needed, and how
// long that took.
func (c *captureFiles) get(t *testing.T, name string) (string, time.Duration) {
	t.Helper()
	path := filepath.Join(c.dir, name+".pcap")
	if _, err := os.Stat(path); err == nil {
		return path, 0
	}
	start := time.Now()
	if out, err := exec.Command(c.gen, name, path).CombinedOutput(); err != nil {
		t.Fatalf("hostilegen %s: %v\n%s", name, err, out)
	}
	return path, time.Since(start)
}

// done removes the capture name once no other case needs it.
func (c *captureFiles) done(name string) {
	if c.users[name]--; c.users[name] == 0 {
		os.Remove(filepath.Join(c.dir, name+".pcap"))
	}
}

// runToFile runs bin with args, its stdout into the file out, and returns
// the result (stderr in memory).
func runToFile(t *testing.T, bin, out string, args ...string) testkit.Result {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(bin, args...)
	cmd.Env = testkit.Env()
	cmd.Stdout = f
	r := testkit.Run(t, 60*time.Second, cmd)
	testkit.NoPanic(t, string(r.Stderr))
	return r
}

func hostileCases() []hostileCase {
	return []hostileCase{
		{
			name:      "syn-flood-capped",
			capture:   "syn-flood",
			args:      []string{"--max-flows", "10000"},
			maxRSSMiB: 64,
			check: func(t *testing.T, s summary, recs []hsRecord) {
				if len(recs) != 0 || s.packets != hostile.SYNFloodPackets {
					t.Errorf("%d records, %d packets", len(recs), s.packets)
				}
				if got, want := s.evicted["flow_limit"], hostile.SYNFloodPackets-10000; got != want {
					t.Errorf("evicted flow_limit %d, want %d (every SYN past the cap)", got, want)
				}
			},
		},
		{
			name:      "syn-flood-default-cap",
			capture:   "syn-flood",
			maxRSSMiB: 256, // README: the defaults keep a busy host well under 256 MiB
			check: func(t *testing.T, s summary, recs []hsRecord) {
				if got, want := s.evicted["flow_limit"], hostile.SYNFloodPackets-262144; got != want {
					t.Errorf("evicted flow_limit %d, want %d", got, want)
				}
			},
		},
		{
			name: "holes",
			// 1000 flows × 32 KB held behind a hole: 32 MB uncapped, 4 MiB
			// allowed. The rest of the peak is the runtime and the file
			// reader's 4 MiB buffers in flight to the workers.
			capture:   "holes",
			args:      []string{"--max-buffer", "4194304"},
			maxRSSMiB: 80,
			check: func(t *testing.T, s summary, recs []hsRecord) {
				if len(recs) != 1000 {
					t.Errorf("%d records, want 1000 (one per hello)", len(recs))
				}
				if s.evicted["buffer_limit"] == 0 {
					t.Errorf("no buffer_limit eviction: %v", s.evicted)
				}
				for _, r := range recs {
					if r.Outcome != "incomplete" || !r.Gap {
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
			capture:   "quic-far-crypto",
			args:      []string{"--max-buffer", "16777216"},
			maxRSSMiB: 192,
			check: func(t *testing.T, s summary, recs []hsRecord) {
				if len(recs) != hostile.QUICFloodConns || s.tlsFlows != hostile.QUICFloodConns {
					t.Errorf("%d records, %d TLS flows, want %d", len(recs), s.tlsFlows, hostile.QUICFloodConns)
				}
				if s.evicted["buffer_limit"] == 0 {
					t.Errorf("no buffer_limit eviction: %v", s.evicted)
				}
				for _, r := range recs {
					if r.Transport != "quic" || r.Outcome != "incomplete" {
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
			capture:   "quic-initial-flood",
			maxRSSMiB: 256, // README: the defaults keep a busy host well under 256 MiB
			check: func(t *testing.T, s summary, recs []hsRecord) {
				if len(recs) == 0 || len(recs) != s.tlsFlows || s.evicted["buffer_limit"] == 0 {
					t.Errorf("%d records, %d TLS flows, evicted %v", len(recs), s.tlsFlows, s.evicted)
				}
				if got := len(recs) + s.evicted["buffer_limit"]; got != hostile.QUICFloodConns {
					t.Errorf("%d records + %d refused = %d, want one per Initial (%d)", len(recs), s.evicted["buffer_limit"], got, hostile.QUICFloodConns)
				}
			},
		},
		{
			// The TCP form: 200,000 connections each sending the start of
			// a ClientHello (1000 bytes of 60 KB) and nothing more, with
			// the default caps: state and held bytes count against
			// --max-buffer, so about 21,000 are followed at once.
			name:      "tcp-partial-hellos",
			capture:   "tcp-partial-hellos",
			maxRSSMiB: 256, // README: the defaults keep a busy host well under 256 MiB
			check: func(t *testing.T, s summary, recs []hsRecord) {
				if len(recs) == 0 || s.evicted["buffer_limit"] == 0 {
					t.Errorf("%d records, evicted %v", len(recs), s.evicted)
				}
				if got := len(recs) + s.evicted["buffer_limit"]; got != hostile.PartialHelloConns {
					t.Errorf("%d records + %d refused = %d, want one per connection (%d)", len(recs), s.evicted["buffer_limit"], got, hostile.PartialHelloConns)
				}
			},
		},
		{
			name:      "reverse-tiny-segments",
			capture:   "reverse-tiny-segments",
			maxRSSMiB: 64,
			check: func(t *testing.T, s summary, recs []hsRecord) {
				if len(recs) != 4 {
					t.Errorf("%d records, want 4", len(recs))
				}
			},
		},
		{
			name:      "hello-claims-16MB",
			capture:   "hello-claims-16MB",
			maxRSSMiB: 48,
			check: func(t *testing.T, s summary, recs []hsRecord) {
				if len(recs) != 1 {
					t.Fatalf("%d records, want 1", len(recs))
				}
				if recs[0].ClientHelloError == nil {
					t.Errorf("no client_hello_error: %v", recs[0])
				}
			},
		},
		{
			name:      "lying-lengths",
			capture:   "lying-lengths",
			maxRSSMiB: 48,
			check: func(t *testing.T, s summary, recs []hsRecord) {
				if s.tlsFlows+s.nonTLSFlows != hostile.LieCount() || len(recs) != s.tlsFlows {
					t.Errorf("%d flows: %d TLS, %d not TLS, %d records", hostile.LieCount(), s.tlsFlows, s.nonTLSFlows, len(recs))
				}
			},
		},
		{
			name:      "10000-extensions",
			capture:   "10000-extensions",
			maxRSSMiB: 48,
			check: func(t *testing.T, s summary, recs []hsRecord) {
				if len(recs) != 1 || recs[0].ServerName != "many.example" || recs[0].Outcome != "server_alert" {
					t.Errorf("records %.500v", recs)
				}
			},
		},
		{
			name:      "escape-sni",
			capture:   "escape-sni",
			maxRSSMiB: 48,
			check: func(t *testing.T, s summary, recs []hsRecord) {
				if len(recs) != len(hostile.EscapeSNIs) {
					t.Fatalf("%d records, want %d", len(recs), len(hostile.EscapeSNIs))
				}
				for i, sni := range hostile.EscapeSNIs {
					if utf8.Valid(sni) && !bytes.ContainsRune(sni, '\\') && recs[i].ServerName != string(sni) {
						t.Errorf("server_name %q, sent %q", recs[i].ServerName, sni)
					}
				}
			},
		},
		{
			name:      "zero-length-records",
			capture:   "zero-length-records",
			maxRSSMiB: 48,
			check: func(t *testing.T, s summary, recs []hsRecord) {
				if s.tlsFlows+s.nonTLSFlows != 3 || len(recs) != s.tlsFlows {
					t.Errorf("3 flows: %d TLS, %d not TLS, %d records", s.tlsFlows, s.nonTLSFlows, len(recs))
				}
			},
		},
		{
			name:      "retransmit-different-bytes",
			capture:   "retransmit-different-bytes",
			maxRSSMiB: 48,
			check: func(t *testing.T, s summary, recs []hsRecord) {
				if len(recs) != 2 {
					t.Fatalf("%d records, want 2", len(recs))
				}
				for _, r := range recs {
					if !r.Ambiguous {
						t.Errorf("retransmission with other bytes not reported: %v", r)
					}
					if r.ServerName != hostile.RetransmitNames[0] {
						t.Errorf("server_name %v, want the first copy %q", r.ServerName, hostile.RetransmitNames[0])
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
		t.Skip("skipped in -short mode: generates and reads ~650 MB of captures")
	}
	bin := testkit.Build(t, "./cmd/hellowatch", false)
	files := &captureFiles{gen: testkit.Build(t, "./internal/hostile/hostilegen", false), dir: t.TempDir(), users: map[string]int{}}
	cases := hostileCases()
	for _, c := range cases {
		files.users[c.capture]++
	}
	var notes []string
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer files.done(c.capture)
			path, gen := files.get(t, c.capture)
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "stdout")
			args := append([]string{"-r", path, "--format", "json", "--summary", "always"}, c.args...)
			r := runToFile(t, bin, out, args...)
			if r.Code != exitOK {
				t.Fatalf("exit %d, want 0\nstderr: %s", r.Code, testkit.LastLines(string(r.Stderr), 20))
			}
			recs := readRecords(t, openFile(t, out))
			s := parseSummary(t, r.Stderr)
			if s.handshakes != len(recs) {
				t.Errorf("summary says %d handshakes, %d JSON lines", s.handshakes, len(recs))
			}
			c.check(t, s, recs)
			rssMiB := r.PeakRSS >> 10
			if rssMiB > c.maxRSSMiB {
				t.Errorf("peak RSS %d MiB, bound %d MiB (args %v)", rssMiB, c.maxRSSMiB, c.args)
			}
			// The same capture in text: no control bytes, one unindented
			// line per handshake.
			rt := runToFile(t, bin, out, append([]string{"-r", path, "--format", "text", "--summary", "never"}, c.args...)...)
			if rt.Code != exitOK {
				t.Fatalf("text: exit %d\nstderr: %s", rt.Code, testkit.LastLines(string(rt.Stderr), 20))
			}
			if n := checkText(t, openFile(t, out)); n != len(recs) {
				t.Errorf("text: %d record lines, JSON: %d", n, len(recs))
			}
			note := fmt.Sprintf("%-28s %6.1f MB, %8d packets, gen %v, run %v, peak RSS %d MiB (bound %d, ru_maxrss %d MiB, args %v), outcomes %v, evicted %v, skipped %v, TLS %d, non-TLS %d",
				c.name, float64(st.Size())/1e6, s.packets, gen.Round(time.Millisecond), r.Wall.Round(time.Millisecond),
				rssMiB, c.maxRSSMiB, r.RUMaxRSS>>10, c.args, outcomes(recs), s.evicted, s.skipped, s.tlsFlows, s.nonTLSFlows)
			t.Log(note)
			notes = append(notes, note)
		})
	}
	for _, n := range notes {
		t.Log(n)
	}
}

// openFile opens path for reading; it is closed at the test's end.
func openFile(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
