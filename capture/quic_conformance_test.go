package capture_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/internal/testkit"
)

// quicExpectation is a QUIC record of ../shared/corpus/expected.jsonl.
type quicExpectation struct {
	Line      int
	File      string           `json:"file"`
	Source    string           `json:"source"`
	Transport string           `json:"transport"`
	Client    string           `json:"client"`
	Server    string           `json:"server"`
	SNI       *json.RawMessage `json:"sni"`
	JA4       string           `json:"ja4"`
	Version   string           `json:"quic_version"`
}

// isQUIC tells QUIC records from DTLS and TLS ones: a JA4 with the q
// prefix, or (Zeek, which records no JA4) a UDP record of a QUIC trace.
func (e *quicExpectation) isQUIC() bool {
	if strings.HasPrefix(e.JA4, "q") {
		return true
	}
	return e.JA4 == "" && e.Transport == "udp" && strings.Contains(e.File, "/quic")
}

// notQUIC lists corpus files whose q-prefixed JA4 is not from QUIC:
// Arkime prints q for TLS over any UDP transport, here TLS inside OpenVPN
// over UDP (hellowatch reads TLS over TCP and QUIC, not OpenVPN).
var notQUIC = map[string]bool{"arkime/tests/pcap/openvpn_synthetic.pcap": true}

// ndpiJA4Quirk reports whether a JA4 from the corpus's nDPI snapshot
// (2024-10) differs from ours only where nDPI departs from the JA4 spec:
// the SNI letter (nDPI always prints d, also without SNI) and the two ALPN
// characters (nDPI does not take the first and last character of the first
// ALPN value: it prints h3 for "h3-29" and "h5"'s list, and h0 for "h3").
// The version, the counts and both hashes must agree.
func ndpiJA4Quirk(got, want string) bool {
	if len(got) != len(want) || len(got) < 11 {
		return false
	}
	return got[:3] == want[:3] && got[4:8] == want[4:8] && got[10:] == want[10:]
}

// TestQUICConformance compares hellowatch's SNI and JA4 of every QUIC flow
// of the corpus with what Zeek, FoxIO's ja4, Arkime, Suricata and nDPI
// recorded. Records with endpoints are matched by the unordered endpoint
// pair; nDPI's records have none and are matched, within their file, to
// a distinct hellowatch record with the same values (a multiset match).
// The bar is 95% of the compared values; every miss is logged, and the
// expected ones are explained in quicKnownMisses.
func TestQUICConformance(t *testing.T) {
	dir := testkit.Corpus(t)
	f, err := os.Open(filepath.Join(dir, "expected.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	byFile := map[string][]*quicExpectation{}
	var files []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		e := &quicExpectation{Line: line}
		if err := json.Unmarshal(sc.Bytes(), e); err != nil {
			t.Fatalf("line %d: %v", line, err)
		}
		if !e.isQUIC() || notQUIC[e.File] {
			continue
		}
		if byFile[e.File] == nil {
			files = append(files, e.File)
		}
		byFile[e.File] = append(byFile[e.File], e)
	}
	sort.Strings(files)
	var compared, agreed, explained, sniCmp, sniOK, ja4Cmp, ja4OK int
	misses := map[string]int{}
	for _, file := range files {
		hs, err := runFile(t, filepath.Join(dir, file))
		if err != nil {
			t.Logf("%s: %v (records read so far are used)", file, err)
		}
		var quics []*handshake.Handshake
		for _, h := range hs {
			if h.Transport == handshake.TransportQUIC {
				quics = append(quics, h)
			}
		}
		used := make([]bool, len(quics))
		for _, e := range byFile[file] {
			wantSNI, hasWantSNI := "", false
			if e.SNI != nil && string(*e.SNI) != "null" {
				_ = json.Unmarshal(*e.SNI, &wantSNI)
				hasWantSNI = true
			}
			match := func(h *handshake.Handshake) bool {
				if e.Client != "" && e.Server != "" {
					a, b := h.Client.String(), h.Server.String()
					return a == e.Client && b == e.Server || a == e.Server && b == e.Client
				}
				if e.SNI != nil && (h.HasSNI != hasWantSNI || h.ServerName != wantSNI) {
					return false
				}
				return e.JA4 == "" || h.JA4 == e.JA4
			}
			var got *handshake.Handshake
			for i, h := range quics {
				if !used[i] && match(h) {
					got, used[i] = h, true
					break
				}
			}
			if got == nil && e.Client == "" && e.JA4 != "" {
				// nDPI: the same SNI and a JA4 that differs only by its quirks.
				for i, h := range quics {
					if !used[i] && (e.SNI == nil || h.HasSNI == hasWantSNI && h.ServerName == wantSNI) && ndpiJA4Quirk(h.JA4, e.JA4) {
						got, used[i] = h, true
						break
					}
				}
			}
			if got == nil && e.Client == "" {
				// Without endpoints, the same SNI is the next best pairing
				// (so that a JA4 difference is reported as one).
				for i, h := range quics {
					if !used[i] && (e.SNI == nil || h.HasSNI == hasWantSNI && h.ServerName == wantSNI) {
						got, used[i] = h, true
						break
					}
				}
			}
			why := ""
			if e.SNI != nil {
				compared++
				sniCmp++
				if got != nil && got.HasSNI == hasWantSNI && got.ServerName == wantSNI {
					agreed++
					sniOK++
				} else {
					why = "sni"
				}
			}
			if e.JA4 != "" {
				compared++
				ja4Cmp++
				switch {
				case got != nil && got.JA4 == e.JA4:
					agreed++
					ja4OK++
				case got != nil && e.Source == "ndpi-result" && ndpiJA4Quirk(got.JA4, e.JA4):
					explained++
				default:
					why += " ja4"
				}
			}
			if why != "" {
				misses[file]++
				gotDesc := "no QUIC record"
				if got != nil {
					gotDesc = got.ServerName + " " + got.JA4 + " " + got.ClientHelloError
				}
				t.Logf("miss (%s) %s line %d [%s %s]: want sni=%s ja4=%s, got %s", strings.TrimSpace(why), file, e.Line, e.Source, e.Version, rawOr(e.SNI), e.JA4, gotDesc)
			}
		}
	}
	if compared == 0 {
		t.Fatal("no QUIC records compared")
	}
	pct := 100 * float64(agreed+explained) / float64(compared)
	t.Logf("QUIC conformance: %d/%d values agree exactly (%.1f%%), %d more differ only by nDPI's JA4 quirks (%.1f%% with them): SNI %d/%d, JA4 %d/%d exact; records in %d files",
		agreed, compared, 100*float64(agreed)/float64(compared), explained, pct, sniOK, sniCmp, ja4OK, ja4Cmp, len(files))
	for file, n := range misses {
		if why, ok := quicKnownMisses[file]; ok {
			t.Logf("known: %s: %d record(s): %s", file, n, why)
		} else {
			t.Errorf("unexplained miss in %s (%d record(s))", file, n)
		}
	}
	if pct < 95 {
		t.Errorf("agreement %.1f%% is under the 95%% bar", pct)
	}
}

func rawOr(r *json.RawMessage) string {
	if r == nil {
		return "-"
	}
	return string(*r)
}

// quicKnownMisses explains, per capture, the records where hellowatch and
// the peer disagree.
var quicKnownMisses = map[string]string{
	// None at present: the PPP-framed quic-go interop traces (DLT 9) decode
	// since capture reads PPP.
}
