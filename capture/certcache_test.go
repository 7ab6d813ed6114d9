package capture

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/tlsparse"
)

// certificateBody returns the server's Certificate message body of a TLS
// 1.2 sample: each direction's payload (a clean loopback capture, in order)
// fed through a tlsparse.Stream.
func certificateBody(t testing.TB, sample string) []byte {
	t.Helper()
	var d Decoded
	dirs := map[uint16][]byte{}
	for _, p := range samplePacketsOf(t, sample) {
		if DecodePacket(p.Link, p.Data, &d) == SkipNone && d.Proto == ProtoTCP {
			dirs[d.SrcPort] = append(dirs[d.SrcPort], d.Payload...)
		}
	}
	for _, b := range dirs {
		h := &collectHandler{}
		var s tlsparse.Stream
		_ = s.Feed(b, h)
		for _, m := range h.msgs {
			if m.typ == tlsparse.HandshakeCertificate {
				return m.body
			}
		}
	}
	t.Fatalf("%s: no Certificate message", sample)
	return nil
}

type collectedMsg struct {
	typ  tlsparse.HandshakeType
	body []byte
}

type collectHandler struct{ msgs []collectedMsg }

func (h *collectHandler) Handshake(typ tlsparse.HandshakeType, body []byte) {
	h.msgs = append(h.msgs, collectedMsg{typ, bytes.Clone(body)})
}
func (*collectHandler) Record(tlsparse.ContentType, tlsparse.Version, int) {}
func (*collectHandler) Alert(tlsparse.Alert)                               {}
func (*collectHandler) ChangeCipherSpec()                                  {}
func (*collectHandler) ApplicationData(int, bool)                          {}
func (*collectHandler) NotTLS([]byte)                                      {}
func (*collectHandler) SSLv2ClientHello([]byte)                            {}
func (*collectHandler) SSLv2ServerHello([]byte)                            {}

func TestCertCache(t *testing.T) {
	body := certificateBody(t, "beyond-alpn-ok-go-h2-go-h2-tls12.pcap")
	var cc certCache
	var cs tlsparse.CertificateSummary
	first := cc.certificate(body, &cs)
	if first == nil || first.Subject == "" || first.ChainLen == 0 {
		t.Fatalf("first parse: %+v", first)
	}
	again := cc.certificate(bytes.Clone(body), &cs)
	if again == first || !reflect.DeepEqual(again, first) {
		t.Fatalf("cached: %+v (same pointer %v), want a copy of %+v", again, again == first, first)
	}
	if len(again.SANs) > 0 {
		again.SANs[0] = "changed"
		if third := cc.certificate(body, &cs); third.SANs[0] == "changed" {
			t.Fatal("a record's certificate aliases the cache")
		}
	}
	// One byte changed in the leaf: parsed anew (a new entry), not served
	// from the entry of the first chain.
	other := bytes.Clone(body)
	other[len(other)-10] ^= 0xff
	if c := cc.certificate(other, &cs); c == nil {
		t.Fatal("a changed chain with valid framing gave no certificate")
	}
	entries := 0
	for _, e := range cc.entries {
		if e.body != nil {
			entries++
		}
	}
	if entries != 2 {
		t.Fatalf("%d cache entries after two distinct chains, want 2", entries)
	}
	// Bad framing: nil, every time, cached or not.
	for range 2 {
		if c := cc.certificate(body[:len(body)-1], &cs); c != nil {
			t.Fatalf("truncated message gave %+v", c)
		}
	}
	// More distinct chains than entries: every answer still right.
	for i := range 3 * certCacheSize {
		b := bytes.Clone(body)
		b[len(b)-20] = byte(i)
		want := parseUncached(t, b)
		if got := cc.certificate(b, &cs); !reflect.DeepEqual(got, want) {
			t.Fatalf("chain %d: %+v, want %+v", i, got, want)
		}
		if got := cc.certificate(b, &cs); !reflect.DeepEqual(got, want) {
			t.Fatalf("chain %d again: %+v, want %+v", i, got, want)
		}
	}
}

func parseUncached(t *testing.T, body []byte) *handshake.Certificate {
	var cc certCache
	var cs tlsparse.CertificateSummary
	return cc.certificate(body, &cs)
}

// BenchmarkCertificate: a server's chain parsed with crypto/x509 (parse) and
// served again from the tracker's cache (cached).
func BenchmarkCertificate(b *testing.B) {
	body := certificateBody(b, "beyond-alpn-ok-go-h2-go-h2-tls12.pcap")
	var cs tlsparse.CertificateSummary
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var cc certCache
			if cc.certificate(body, &cs) == nil {
				b.Fatal("no certificate")
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		var cc certCache
		cc.certificate(body, &cs)
		b.ReportAllocs()
		for b.Loop() {
			if cc.certificate(body, &cs) == nil {
				b.Fatal("no certificate")
			}
		}
	})
}
