package tlsparse

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hellowatch/hellowatch/internal/testkit"
)

type realHello struct {
	name   string
	stream []byte // raw records as captured
	body   []byte // ClientHello body
}

// realHellos loads testdata/hellos/*.bin, made by scripts/capture-hellos.sh.
func realHellos(t testing.TB) []realHello {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("testdata", "hellos", "*.bin"))
	if len(files) == 0 {
		t.Fatal("no testdata/hellos/*.bin; run scripts/capture-hellos.sh")
	}
	var out []realHello
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var r recorder
		var s Stream
		if err := s.Feed(b, &r); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(r.hs) == 0 || r.hs[0].typ != HandshakeClientHello {
			t.Fatalf("%s: no client hello", f)
		}
		out = append(out, realHello{strings.TrimSuffix(filepath.Base(f), ".bin"), b, r.hs[0].body})
	}
	return out
}

// helloSummary is the golden JSON form of a parsed hello.
type helloSummary struct {
	LegacyVersion        string
	HighestVersion       string
	Offered              []string
	SessionIDLen         int
	CipherSuites         []string
	Extensions           []string
	ServerNames          []string
	HasSNI, SNIIsIP      bool
	SNIEmpty, SNIInvalid bool
	ALPN                 []string
	SupportedGroups      []string
	ECPointFormats       []uint8
	SignatureAlgorithms  []string
	KeyShares            []KeyShare
	PSKModes             []uint8
	PSKIdentities        int
	EarlyData            bool
	StatusRequest        bool
	HasSessionTicket     bool
	RenegotiationInfo    bool
	PaddingLen           int
	RecordSizeLimit      uint16
	CompressCertificate  []uint16
	ECHOuter             bool
	Duplicate            bool
	ExtensionError       string
	JA3String, JA3       string
	JA4, JA4R, JA4O      string
	JA4RO                string
}

func names[T interface{ String() string }](v []T) []string {
	out := []string{}
	for _, x := range v {
		out = append(out, x.String())
	}
	return out
}

func summarize(ch *ClientHello) helloSummary {
	s := helloSummary{
		LegacyVersion: ch.LegacyVersion.String(), HighestVersion: ch.HighestVersion().String(),
		Offered: names(ch.OfferedVersions(nil)), SessionIDLen: len(ch.SessionID),
		CipherSuites: names(ch.CipherSuites), Extensions: names(ch.Extensions),
		HasSNI: ch.HasSNI, SNIIsIP: ch.SNIIsIP, SNIEmpty: ch.SNIEmpty, SNIInvalid: ch.SNIInvalid,
		SupportedGroups: names(ch.SupportedGroups), ECPointFormats: ch.ECPointFormats,
		SignatureAlgorithms: names(ch.SignatureAlgorithms), KeyShares: ch.KeyShares,
		PSKModes: ch.PSKModes, PSKIdentities: ch.PSKIdentities, EarlyData: ch.EarlyData,
		StatusRequest: ch.StatusRequest, HasSessionTicket: ch.HasSessionTicket,
		RenegotiationInfo: ch.RenegotiationInfo, PaddingLen: ch.PaddingLen,
		RecordSizeLimit: ch.RecordSizeLimit, CompressCertificate: ch.CompressCertificate,
		ECHOuter: ch.ECHOuter, Duplicate: ch.DuplicateExtension,
		JA3String: string(ch.JA3String(nil)), JA3: string(ch.JA3(nil)),
		JA4: string(ch.JA4(nil)), JA4R: string(ch.JA4R(nil)), JA4O: string(ch.JA4O(nil)), JA4RO: string(ch.JA4RO(nil)),
	}
	for _, n := range ch.ServerNames {
		s.ServerNames = append(s.ServerNames, string(n))
	}
	for _, a := range ch.ALPN {
		s.ALPN = append(s.ALPN, string(a))
	}
	if ch.ExtensionError != nil {
		s.ExtensionError = ch.ExtensionError.Error()
	}
	return s
}

func TestGoldenHellos(t *testing.T) {
	for _, h := range realHellos(t) {
		t.Run(h.name, func(t *testing.T) {
			var ch ClientHello
			if err := ParseClientHello(h.body, &ch); err != nil {
				t.Fatal(err)
			}
			if ch.ExtensionError != nil {
				t.Errorf("extension error: %v", ch.ExtensionError)
			}
			got, _ := json.MarshalIndent(summarize(&ch), "", "  ")
			got = append(got, '\n')
			testkit.Golden(t, filepath.Join("testdata", "golden", h.name+".json"), got)
			// Properties known from how each capture was made.
			switch {
			case strings.Contains(h.name, "nosni"), h.name == "curl-ip-literal", h.name == "go-ip-sni", h.name == "openssl-tls10":
				if ch.HasSNI {
					t.Error("unexpected SNI")
				}
			default:
				if !ch.HasSNI || string(ch.ServerName()) != "hello.test" && !strings.HasPrefix(h.name, "nginx") {
					t.Errorf("SNI = %q", ch.ServerName())
				}
			}
			if strings.Contains(h.name, "tls13") && ch.HighestVersion() != VersionTLS13 {
				t.Error("want TLS 1.3 offered")
			}
			if strings.Contains(h.name, "tls12") && ch.HighestVersion() != VersionTLS12 {
				t.Errorf("highest = %v", ch.HighestVersion())
			}
		})
	}
}

// TestRealHelloProperties checks chunking equality on the real captures and
// that every strict prefix of a hello gives ErrIncomplete where the format
// allows it to be told apart.
func TestRealHelloProperties(t *testing.T) {
	for _, h := range realHellos(t) {
		t.Run(h.name, func(t *testing.T) {
			checkChunking(t, h.stream)
			msg := h.stream[5:]
			typ, body, rest, err := ParseHandshake(msg[:4+len(h.body)])
			if err != nil || typ != HandshakeClientHello || !bytes.Equal(body, h.body) || len(rest) != 0 {
				t.Fatalf("ParseHandshake: %v %v", typ, err)
			}
			for i := 0; i < 4+len(h.body); i++ {
				if _, _, _, err := ParseHandshake(msg[:i]); !errors.Is(err, ErrIncomplete) {
					t.Fatalf("prefix %d: %v", i, err)
				}
			}
			// Prefixes of the body that end inside a field.
			var ch ClientHello
			for i := 0; i < 39+len(h.body[34:35]); i++ {
				if err := ParseClientHello(h.body[:i], &ch); !errors.Is(err, ErrIncomplete) {
					t.Fatalf("body prefix %d: %v", i, err)
				}
			}
		})
	}
}

func TestParseClientHelloZeroAlloc(t *testing.T) {
	var ch ClientHello
	dst := make([]byte, 0, 4096)
	for _, h := range realHellos(t) {
		allocs := testing.AllocsPerRun(100, func() {
			if err := ParseClientHello(h.body, &ch); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: ParseClientHello allocates %.1f times", h.name, allocs)
		}
		allocs = testing.AllocsPerRun(100, func() {
			ParseClientHello(h.body, &ch)
			dst = ch.JA3(dst[:0])
			dst = ch.JA4(dst[:0])
			dst = ch.JA4R(dst[:0])
			dst = ch.JA4O(dst[:0])
		})
		if allocs != 0 {
			t.Errorf("%s: fingerprints allocate %.1f times", h.name, allocs)
		}
	}
}

type nopHandler struct{ n int }

func (h *nopHandler) Record(ContentType, Version, int)    {}
func (h *nopHandler) Handshake(_ HandshakeType, b []byte) { h.n += len(b) }
func (h *nopHandler) Alert(Alert)                         {}
func (h *nopHandler) ChangeCipherSpec()                   {}
func (h *nopHandler) ApplicationData(n int, _ bool)       { h.n += n }
func (h *nopHandler) NotTLS([]byte)                       {}
func (h *nopHandler) SSLv2ClientHello([]byte)             {}
func (h *nopHandler) SSLv2ServerHello([]byte)             {}

func TestStreamZeroAlloc(t *testing.T) {
	c, s := transcript(t, &testTLS12Client, testTLSServer())
	var h nopHandler
	for _, b := range [][]byte{c, s} {
		var st Stream
		allocs := testing.AllocsPerRun(50, func() {
			st.Reset()
			// fragmented feeding exercises the reassembly buffer
			for p := b; len(p) > 0; p = p[min(len(p), 100):] {
				st.Feed(p[:min(len(p), 100)], &h)
			}
		})
		if allocs != 0 {
			t.Errorf("Stream allocates %.1f times per transcript", allocs)
		}
	}
}
