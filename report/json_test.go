package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hellowatch/hellowatch/diagnose"
	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/internal/testkit"
)

// TestJSONKeys: every line carries exactly the contract's keys, JSONKeys,
// in its order, once each, whatever the record holds.
func TestJSONKeys(t *testing.T) {
	for _, s := range samples() {
		t.Run(s.name, func(t *testing.T) {
			line := AppendJSON(nil, s.h, findings(s.h))
			got, err := topLevelKeys(line)
			if err != nil {
				t.Fatalf("%v\n%s", err, line)
			}
			if !slices.Equal(got, JSONKeys) {
				t.Errorf("keys written:\n%q\nJSONKeys:\n%q", got, JSONKeys)
			}
		})
	}
}

// topLevelKeys returns the keys of the JSON object line, in order.
func topLevelKeys(line []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object: %v %v", tok, err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

func TestJSONGolden(t *testing.T) {
	var buf bytes.Buffer
	jw := NewJSONWriter(&buf)
	for _, s := range samples() {
		if err := jw.Write(s.h, findings(s.h)); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Golden(t, filepath.Join("testdata", "handshakes.golden.jsonl"), buf.Bytes())
}

func TestJSONContract(t *testing.T) {
	for _, s := range samples() {
		t.Run(s.name, func(t *testing.T) {
			line := AppendJSON(nil, s.h, findings(s.h))
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatalf("invalid JSON: %v\n%s", err, line)
			}
			for _, k := range JSONKeys {
				if _, ok := m[k]; !ok {
					t.Errorf("key %q missing", k)
				}
			}
			if got, want := m["outcome"], s.h.Outcome.String(); got != want {
				t.Errorf("outcome = %v, want %v", got, want)
			}
			if got := m["established"]; got != s.h.Established() {
				t.Errorf("established = %v", got)
			}
			if !s.h.HasSNI && m["server_name"] != nil {
				t.Errorf("server_name = %v, want null", m["server_name"])
			}
			ts, err := time.Parse(time.RFC3339Nano, m["ts"].(string))
			if err != nil || !ts.Equal(s.h.ClientHelloTime) {
				t.Errorf("ts = %v (%v)", m["ts"], err)
			}
			if m["server"] != s.h.Server.String() {
				t.Errorf("server = %v, want %v", m["server"], s.h.Server)
			}
			for _, a := range m["alerts"].([]any) {
				a := a.(map[string]any)
				if a["encrypted"] == true && (a["level"] != nil || a["code"] != nil || a["description"] != nil) {
					t.Errorf("encrypted alert with level/code: %v", a)
				}
			}
			if quic := s.h.Transport == handshake.TransportQUIC; quic != (m["quic"] != nil) || quic != (m["tcp_end"] == nil) {
				t.Errorf("transport %s: quic = %v, tcp_end = %v (want exactly one of them)", s.h.Transport, m["quic"], m["tcp_end"])
			}
			noRawControls(t, line, false)
		})
	}
}

// TestJSONQUIC: the QUIC object carries the connection IDs in hex, the
// CONNECTION_CLOSE with its reason phrase as wire bytes.
func TestJSONQUIC(t *testing.T) {
	var h *handshake.Handshake
	for _, s := range samples() {
		if s.h.QUIC != nil {
			h = s.h
		}
	}
	var m struct {
		QUIC struct {
			Version   string  `json:"version"`
			DCID      string  `json:"dcid"`
			Retry     bool    `json:"retry"`
			RetryDCID *string `json:"retry_dcid"`
			Close     *struct {
				Sender    string `json:"sender"`
				ErrorCode uint64 `json:"error_code"`
				Reason    string `json:"reason"`
				Packet    uint64 `json:"packet"`
			} `json:"close"`
		} `json:"quic"`
	}
	line := AppendJSON(nil, h, findings(h))
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("%v\n%s", err, line)
	}
	q := m.QUIC
	if q.Version != "v1" || q.DCID != "8394c8f03e515708" || !q.Retry || q.RetryDCID == nil || *q.RetryDCID != "f067a5502a4262b5" {
		t.Errorf("quic = %+v", q)
	}
	if q.Close == nil {
		t.Fatalf("no close: %s", line)
	}
	if reason, ok := decodeWire(q.Close.Reason); !ok || reason != h.QUIC.Close.Reason {
		t.Errorf("reason %q decodes to %q, want %q", q.Close.Reason, reason, h.QUIC.Close.Reason)
	}
	if q.Close.Sender != "server" || q.Close.ErrorCode != 0x0150 || q.Close.Packet != 4 {
		t.Errorf("close = %+v", *q.Close)
	}
}

func TestJSONFields(t *testing.T) {
	h := samples()[0].h
	var m map[string]any
	if err := json.Unmarshal(AppendJSON(nil, h, findings(h)), &m); err != nil {
		t.Fatal(err)
	}
	a := m["alerts"].([]any)[0].(map[string]any)
	if a["sender"] != "server" || a["level"] != "fatal" || a["description"] != "handshake_failure" || a["code"] != 40.0 || a["encrypted"] != false {
		t.Errorf("alert = %v", a)
	}
	f := m["findings"].([]any)[0].(map[string]any)
	if f["id"] != "missing_sni" || f["severity"] != "error" || f["hint"] == "" || f["nginx_log"] == nil {
		t.Errorf("finding = %v", f)
	}
	if tm := m["timings"].(map[string]any); tm["answer_ms"] != 0.4 {
		t.Errorf("answer_ms = %v", tm["answer_ms"])
	}
}

// decodeWire inverts the JSON wire-string convention: `\\` is a backslash,
// `\xNN` a raw byte.
func decodeWire(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case i+1 < len(s) && s[i+1] == '\\':
			b.WriteByte('\\')
			i++
		case i+3 < len(s) && s[i+1] == 'x':
			v, err := strconv.ParseUint(s[i+2:i+4], 16, 8)
			if err != nil {
				return "", false
			}
			b.WriteByte(byte(v))
			i += 3
		default:
			return "", false
		}
	}
	return b.String(), true
}

func checkWireJSON(t *testing.T, in string) {
	t.Helper()
	h := &handshake.Handshake{HasSNI: true, ServerName: in, ALPN: []string{in, "h2"}, NextProtocol: in,
		NotTLSPrefix: []byte(in), History: in, JA3String: in, Outcome: handshake.OutcomeNotTLS,
		Cert: &handshake.Certificate{Subject: in, SANs: []string{in}}}
	line := AppendJSON(nil, h, diagnose.Diagnose(h))
	noRawControls(t, line, false)
	var m struct {
		ServerName string   `json:"server_name"`
		ALPN       []string `json:"alpn"`
		Prefix     string   `json:"not_tls_prefix"`
		Cert       struct {
			Subject string
		}
	}
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("invalid JSON for %q: %v\n%s", in, err, line)
	}
	for _, got := range []string{m.ServerName, m.ALPN[0], m.Prefix, m.Cert.Subject} {
		if back, ok := decodeWire(got); !ok || back != in {
			t.Fatalf("wire string %q came back as %q -> %q", in, got, back)
		}
	}
}

func TestJSONHostileStrings(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 20000; i++ {
		checkWireJSON(t, randomWire(r))
	}
}

func FuzzJSONWire(f *testing.F) {
	for _, s := range []string{"example.com", "\x1b[2J", "\xff\xfe", `a\x41`, "\u2028", "\"}"} {
		f.Add(s)
	}
	f.Fuzz(checkWireJSON)
}

type flushRecorder struct {
	bytes.Buffer
	flushes int
}

func (f *flushRecorder) Flush() error { f.flushes++; return nil }

func TestJSONWriterFlushesAndSplitsLines(t *testing.T) {
	var fr flushRecorder
	jw := NewJSONWriter(&fr)
	ss := samples()
	for _, s := range ss {
		if err := jw.Write(s.h, findings(s.h)); err != nil {
			t.Fatal(err)
		}
	}
	if fr.flushes != len(ss) {
		t.Errorf("flushes = %d, want %d", fr.flushes, len(ss))
	}
	sc := bufio.NewScanner(&fr)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		if !json.Valid(sc.Bytes()) {
			t.Errorf("line %d invalid: %s", n, sc.Bytes())
		}
		n++
	}
	if n != len(ss) {
		t.Errorf("lines = %d, want %d", n, len(ss))
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestJSONWriterError(t *testing.T) {
	err := NewJSONWriter(failWriter{}).Write(samples()[0].h, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "report: ") {
		t.Fatalf("err = %v", err)
	}
}

func TestJSONWriterNoAlloc(t *testing.T) {
	h := samples()[0].h
	fs := findings(h)
	jw := NewJSONWriter(io.Discard)
	_ = jw.Write(h, fs)
	if n := testing.AllocsPerRun(100, func() { _ = jw.Write(h, fs) }); n != 0 {
		t.Fatalf("JSONWriter.Write allocates %v times per record", n)
	}
}

func TestJSONIPv6(t *testing.T) {
	h := &handshake.Handshake{Server: netip.MustParseAddrPort("[2001:db8::1]:443")}
	if !bytes.Contains(AppendJSON(nil, h, nil), []byte(`"server":"[2001:db8::1]:443"`)) {
		t.Fatal("IPv6 server not bracketed")
	}
}

func BenchmarkJSONWriter(b *testing.B) {
	for _, s := range samples() {
		fs := findings(s.h)
		b.Run(s.name, func(b *testing.B) {
			jw := NewJSONWriter(io.Discard)
			line := AppendJSON(nil, s.h, fs)
			b.SetBytes(int64(len(line) + 1))
			b.ReportAllocs()
			for b.Loop() {
				_ = jw.Write(s.h, fs)
			}
		})
	}
}

// BenchmarkEncodingJSON is the reflection baseline, for comparison.
func BenchmarkEncodingJSON(b *testing.B) {
	s := samples()[0]
	fs := findings(s.h)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = json.Marshal(struct {
			H  *handshake.Handshake
			Fs []diagnose.Finding
		}{s.h, fs})
	}
}
