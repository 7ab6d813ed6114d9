package capture_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hellowatch/hellowatch/capture"
	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/internal/testkit"
)

type expectation struct {
	Line      int
	File      string           `json:"file"`
	Source    string           `json:"source"`
	Transport string           `json:"transport"`
	Client    string           `json:"client"`
	Server    string           `json:"server"`
	Endpoints []string         `json:"endpoints"`
	SNI       *json.RawMessage `json:"sni"`
	Version   *json.RawMessage `json:"version"`
	LastAlert *json.RawMessage `json:"last_alert"`
}

// runFile returns every handshake hellowatch reports for a capture.
func runFile(t testing.TB, path string) ([]*handshake.Handshake, error) {
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

var draftRE = regexp.MustCompile(`draft-?(<?)(\d+)`)

// versionMatches compares a peer's version spelling with the wire value.
func versionMatches(peer string, h *handshake.Handshake) bool {
	got := uint16(h.Version)
	if !h.ServerHelloSeen {
		got = 0
	}
	if m := draftRE.FindStringSubmatch(peer); m != nil {
		n, _ := strconv.Atoi(m[2])
		if got>>8 != 0x7f && got>>8 != 0xfb {
			return false
		}
		if m[1] == "<" {
			return int(got&0xff) < n
		}
		return int(got&0xff) == n
	}
	if strings.HasPrefix(peer, "unknown-") {
		n, _ := strconv.Atoi(strings.TrimPrefix(peer, "unknown-"))
		return int(got) == n
	}
	want := map[string]uint16{
		"SSLv2": 0x0002, "SSLv3": 0x0300,
		"TLSv10": 0x0301, "TLSv1": 0x0301, "TLS 1.0": 0x0301,
		"TLSv11": 0x0302, "TLSv1.1": 0x0302, "TLS 1.1": 0x0302,
		"TLSv12": 0x0303, "TLSv1.2": 0x0303, "TLS 1.2": 0x0303,
		"TLSv13": 0x0304, "TLSv1.3": 0x0304, "TLS 1.3": 0x0304,
	}[peer]
	return want != 0 && got == want
}

func lastPlainAlert(h *handshake.Handshake) string {
	name := ""
	for _, a := range h.Alerts {
		if !a.Encrypted {
			name = a.Description.String()
		}
	}
	return name
}

// TestCorpusConformance checks, for every TCP flow in the shared corpus,
// that hellowatch reports the SNI, negotiated version and last alert that
// the peer's own tool recorded. Disagreements are listed in
// testdata/conformance.golden (regenerate with -update); the test fails
// when they change, so a regression cannot hide among known misses.
func TestCorpusConformance(t *testing.T) {
	dir := testkit.Corpus(t)
	f, err := os.Open(filepath.Join(dir, "expected.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var exps []expectation
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		var e expectation
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("expected.jsonl:%d: %v", line, err)
		}
		e.Line = line
		if e.Transport != "tcp" || e.SNI == nil && e.Version == nil && e.LastAlert == nil {
			continue
		}
		if e.Client == "" && len(e.Endpoints) != 2 {
			continue
		}
		exps = append(exps, e)
	}
	cache := map[string][]*handshake.Handshake{}
	var checks, agree int
	var misses []string
	for _, e := range exps {
		hs, ok := cache[e.File]
		if !ok {
			hs, err = runFile(t, filepath.Join(dir, e.File))
			if err != nil {
				t.Logf("%s: %v (records before the error are used)", e.File, err)
			}
			cache[e.File] = hs
		}
		var cands []*handshake.Handshake
		for _, h := range hs {
			c, s := h.Client.String(), h.Server.String()
			if e.Client != "" && c == e.Client && s == e.Server ||
				len(e.Endpoints) == 2 && (c == e.Endpoints[0] && s == e.Endpoints[1] || c == e.Endpoints[1] && s == e.Endpoints[0]) {
				cands = append(cands, h)
			}
		}
		check := func(field string, raw *json.RawMessage, ok func(h *handshake.Handshake, v *string) bool, got func(h *handshake.Handshake) string) {
			if raw == nil {
				return
			}
			var v *string
			if err := json.Unmarshal(*raw, &v); err != nil {
				return
			}
			checks++
			for _, h := range cands {
				if ok(h, v) {
					agree++
					return
				}
			}
			want := "null"
			if v != nil {
				want = strconv.Quote(*v)
			}
			var gots []string
			for _, h := range cands {
				gots = append(gots, got(h))
			}
			if len(cands) == 0 {
				gots = []string{"no handshake reported for this flow"}
			}
			misses = append(misses, fmt.Sprintf("%s %s %s->%s%v %s: want %s, got %s",
				e.Source, e.File, e.Client, e.Server, e.Endpoints, field, want, strings.Join(gots, " | ")))
		}
		check("sni", e.SNI, func(h *handshake.Handshake, v *string) bool {
			if v == nil {
				return !h.HasSNI
			}
			return h.HasSNI && h.ServerName == *v
		}, func(h *handshake.Handshake) string {
			if !h.HasSNI {
				return "null"
			}
			return strconv.Quote(h.ServerName)
		})
		check("version", e.Version, func(h *handshake.Handshake, v *string) bool {
			if v == nil {
				return !h.ServerHelloSeen
			}
			return versionMatches(*v, h)
		}, func(h *handshake.Handshake) string {
			if !h.ServerHelloSeen {
				return "null"
			}
			return fmt.Sprintf("%q(0x%04x)", h.Version, uint16(h.Version))
		})
		check("last_alert", e.LastAlert, func(h *handshake.Handshake, v *string) bool {
			if v == nil {
				return lastPlainAlert(h) == ""
			}
			return lastPlainAlert(h) == *v
		}, func(h *handshake.Handshake) string { return strconv.Quote(lastPlainAlert(h)) })
	}
	sort.Strings(misses)
	t.Logf("corpus conformance: %d/%d checks agree (%d records, %d files)", agree, checks, len(exps), len(cache))
	got := fmt.Sprintf("# agreement %d/%d\n%s", agree, checks, strings.Join(misses, "\n"))
	if len(misses) > 0 {
		got += "\n"
	}
	testkit.Golden(t, filepath.Join("testdata", "conformance.golden"), []byte(got))
}
