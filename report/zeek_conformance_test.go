package report

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hellowatch/hellowatch/capture"
	"github.com/hellowatch/hellowatch/handshake"
)

// zeekFields are the ssl.log fields compared with Zeek's recorded values,
// each of which must agree on at least zeekAgreement of the records.
var zeekFields = []string{"version", "cipher", "curve", "server_name", "established", "resumed", "last_alert", "next_protocol", "ssl_history"}

const zeekAgreement = 0.95

// corpusRoot returns ../shared/corpus beside the repository ($HW_TEST_CORPUS
// overrides it), or skips.
func corpusRoot(t *testing.T) string {
	dir := os.Getenv("HW_TEST_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "corpus")
	}
	if _, err := os.Stat(filepath.Join(dir, "expected.jsonl")); err != nil {
		t.Skipf("skipped: conformance corpus not found at %s ($HW_TEST_CORPUS)", dir)
	}
	return dir
}

// zeekExpectation is one ssl.log line Zeek wrote for a corpus capture.
type zeekExpectation struct {
	line      int
	File      string                     `json:"file"`
	Source    string                     `json:"source"`
	Transport string                     `json:"transport"`
	Client    string                     `json:"client"`
	Server    string                     `json:"server"`
	Fields    map[string]json.RawMessage `json:"-"`
}

// readZeekExpectations returns the zeek-baseline records of expected.jsonl.
func readZeekExpectations(t *testing.T, dir string) []zeekExpectation {
	f, err := os.Open(filepath.Join(dir, "expected.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []zeekExpectation
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var e zeekExpectation
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("expected.jsonl:%d: %v", n, err)
		}
		if e.Source != "zeek-baseline" {
			continue
		}
		if err := json.Unmarshal(sc.Bytes(), &e.Fields); err != nil {
			t.Fatal(err)
		}
		// The corpus names the SNI "sni"; Zeek's field is server_name.
		if v, ok := e.Fields["sni"]; ok {
			e.Fields["server_name"] = v
		}
		e.line = n
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// readCapture returns every handshake hellowatch reports for a capture.
func readCapture(path string) ([]*handshake.Handshake, error) {
	src, err := capture.OpenFiles([]string{path})
	if err != nil {
		return nil, err
	}
	defer src.Close()
	var out []*handshake.Handshake
	tr := capture.NewTracker(capture.Config{Emit: func(h *handshake.Handshake) { out = append(out, h) }})
	for {
		p, err := src.Next()
		if err != nil {
			tr.Flush()
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		tr.Packet(p)
	}
}

// sameFlow reports whether h is the connection between a and b (either
// order; Zeek's orig may be either end).
func sameFlow(h *handshake.Handshake, a, b string) bool {
	pa, err1 := netip.ParseAddrPort(a)
	pb, err2 := netip.ParseAddrPort(b)
	if err1 != nil || err2 != nil {
		return false
	}
	return h.Client == pa && h.Server == pb || h.Client == pb && h.Server == pa
}

// TestZeekConformance compares hellowatch's ssl.log objects with the
// ssl.log lines Zeek recorded for the corpus captures
// (../shared/corpus, source zeek-baseline), matched by the 4-tuple (or,
// for the five baselines without one, the only handshake in the file),
// and prints the agreement per field. DTLS records are left out:
// hellowatch does not analyse DTLS.
func TestZeekConformance(t *testing.T) {
	dir := corpusRoot(t)
	exps := readZeekExpectations(t, dir)
	if len(exps) < 80 {
		t.Fatalf("%d zeek-baseline records, want the corpus's 96", len(exps))
	}
	type tally struct{ agree, total int }
	per := map[string]*tally{}
	for _, f := range zeekFields {
		per[f] = &tally{}
	}
	cache := map[string][]*handshake.Handshake{}
	var dtls, unmatched int
	var diffs []string
	for _, e := range exps {
		if strings.Contains(string(e.Fields["version"]), "DTLS") || strings.Contains(e.File, "dtls") || strings.Contains(e.File, "webrtc") {
			dtls++
			continue
		}
		hs, ok := cache[e.File]
		if !ok {
			var err error
			hs, err = readCapture(filepath.Join(dir, e.File))
			if err != nil {
				t.Logf("%s: %v (handshakes so far are compared)", e.File, err)
			}
			cache[e.File] = hs
		}
		var h *handshake.Handshake
		switch {
		case e.Client != "" && e.Server != "":
			for _, c := range hs {
				if sameFlow(c, e.Client, e.Server) {
					h = c
				}
			}
		case len(hs) == 1:
			h = hs[0]
		}
		got := map[string]any{}
		if h != nil {
			if err := json.Unmarshal(AppendZeekSSL(nil, h, false), &got); err != nil {
				t.Fatalf("%s: our ssl.log object is not JSON: %v", e.File, err)
			}
		} else {
			unmatched++
		}
		for _, f := range zeekFields {
			raw, ok := e.Fields[f]
			if !ok {
				continue
			}
			var want any
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			per[f].total++
			g, present := got[f]
			if h == nil {
				diffs = append(diffs, fmt.Sprintf("%s %s-%s: no handshake", e.File, e.Client, e.Server))
				continue
			}
			if (want == nil && !present) || (present && g == want) {
				per[f].agree++
				continue
			}
			diffs = append(diffs, fmt.Sprintf("%s %s-%s %s: zeek %v, hellowatch %v", filepath.Base(e.File), e.Client, e.Server, f, want, g))
		}
	}
	sort.Strings(diffs)
	for _, d := range diffs {
		t.Log(d)
	}
	t.Logf("records: %d compared, %d DTLS left out, %d without a matching handshake", len(exps)-dtls, dtls, unmatched)
	for _, f := range zeekFields {
		c := per[f]
		ratio := float64(c.agree) / float64(max(c.total, 1))
		t.Logf("%-14s %3d/%3d agree (%.1f%%)", f, c.agree, c.total, 100*ratio)
		if c.total == 0 {
			t.Errorf("%s: no record to compare", f)
		} else if ratio < zeekAgreement {
			t.Errorf("%s agrees with Zeek on %.1f%% of the records, want >= %.0f%%", f, 100*ratio, 100*zeekAgreement)
		}
	}
}
