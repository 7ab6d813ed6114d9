package tlsparse

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// seedHellos adds the real captures (or, in fuzz workers without testdata,
// nothing) to f.
func seedStreams(f *testing.F) [][]byte {
	files, _ := filepath.Glob(filepath.Join("testdata", "hellos", "*.bin"))
	var out [][]byte
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err == nil {
			out = append(out, b)
		}
	}
	return out
}

func seedBodies(f *testing.F) [][]byte {
	var out [][]byte
	for _, b := range seedStreams(f) {
		var r recorder
		var s Stream
		s.Feed(b, &r)
		for _, h := range r.hs {
			out = append(out, h.body)
		}
	}
	return out
}

// typedErr reports whether err is one of the package's documented errors.
func typedErr(err error) bool {
	var pe *ParseError
	return err == nil || errors.Is(err, ErrIncomplete) || errors.Is(err, ErrNotTLS) ||
		errors.Is(err, ErrRecordTooLong) || errors.Is(err, ErrHandshakeTooLong) || errors.As(err, &pe)
}

func FuzzStream(f *testing.F) {
	for _, b := range seedStreams(f) {
		f.Add(b, uint8(7))
	}
	f.Add([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"), uint8(1))
	if _, server := sslv2StreamsOK(); server != nil {
		f.Add(server, uint8(5)) // SSLv2 SERVER-HELLO, then SSLv2 records
	}
	f.Add([]byte{20, 3, 3, 0, 1, 1, 21, 3, 3, 0, 2, 2, 40, 22, 3, 3, 0, 4, 1, 0, 0, 0}, uint8(3))
	f.Fuzz(func(t *testing.T, b []byte, chunk uint8) {
		whole, _, werr := feedChunks(b, func() int { return len(b) + 1 })
		if !typedErr(werr) {
			t.Fatalf("untyped error %v", werr)
		}
		n := int(chunk%64) + 1
		got, _, err := feedChunks(b, func() int { return n })
		if got != whole || !sameErr(err, werr) {
			t.Fatalf("chunk %d differs:\n%s\nvs\n%s\n%v %v", n, got, whole, err, werr)
		}
	})
}

func FuzzClientHello(f *testing.F) {
	for _, b := range seedBodies(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var ch ClientHello
		err := ParseClientHello(b, &ch)
		if !typedErr(err) {
			t.Fatalf("untyped error %v", err)
		}
		if err != nil {
			return
		}
		// Fingerprints never panic and are stable across a re-parse that
		// reuses the slices.
		j4 := string(ch.JA4(nil))
		j3 := string(ch.JA3(nil))
		ch.JA4RO(nil)
		ch.OfferedVersions(nil)
		var ch2 ClientHello
		ParseClientHello(b, &ch2)
		ParseClientHello(b, &ch2)
		if string(ch2.JA4(nil)) != j4 || string(ch2.JA3(nil)) != j3 {
			t.Fatal("re-parse changed fingerprints")
		}
		// Every strict prefix of the framed message is incomplete.
		msg := append([]byte{1, byte(len(b) >> 16), byte(len(b) >> 8), byte(len(b))}, b...)
		if len(b) <= MaxHandshakeLen {
			for i := 0; i < len(msg); i++ {
				if _, _, _, err := ParseHandshake(msg[:i]); !errors.Is(err, ErrIncomplete) {
					t.Fatalf("prefix %d: %v", i, err)
				}
			}
		}
	})
}

func FuzzServerHello(f *testing.F) {
	c, s := transcript(f, &testTLS12Client, testTLSServer())
	_ = c
	var r recorder
	var st Stream
	st.Feed(s, &r)
	for _, h := range r.hs {
		if h.typ == HandshakeServerHello {
			f.Add(h.body)
		}
	}
	body := append([]byte{3, 3}, helloRetryRandom[:]...)
	body = append(body, 0, 0x13, 0x01, 0, 0, 12, 0, 43, 0, 2, 3, 4, 0, 51, 0, 2, 0, 23)
	f.Add(body)
	f.Fuzz(func(t *testing.T, b []byte) {
		var sh ServerHello
		err := ParseServerHello(b, &sh)
		if !typedErr(err) {
			t.Fatalf("untyped error %v", err)
		}
		hrr, v := serverHelloQuick(b)
		if err == nil && (hrr != sh.IsHRR || v != sh.SelectedVersion) {
			t.Fatalf("quick scan disagrees: %v %v vs %v %v", hrr, v, sh.IsHRR, sh.SelectedVersion)
		}
	})
}

func FuzzCertificate(f *testing.F) {
	_, s := transcript(f, &testTLS12Client, testTLSServer())
	var r recorder
	var st Stream
	st.Feed(s, &r)
	for _, h := range r.hs {
		if h.typ == HandshakeCertificate {
			f.Add(h.body)
		}
	}
	f.Add([]byte{0, 0, 5, 0, 0, 2, 0x30, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		var cs CertificateSummary
		err := ParseCertificate(b, &cs)
		if !typedErr(err) {
			t.Fatalf("untyped error %v", err)
		}
		if err == nil && cs.ChainLen == 0 && len(b) != 3 {
			t.Fatal("empty chain from a longer body")
		}
	})
}

func FuzzSSLv2ClientHello(f *testing.F) {
	body := []byte{1, 3, 1, 0, 6, 0, 0, 0, 16, 0, 0, 0x2f, 0x07, 0x00, 0xc0}
	f.Add(append(body, make([]byte, 16)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		var h SSLv2Hello
		err := ParseSSLv2ClientHello(b, &h)
		if !typedErr(err) {
			t.Fatalf("untyped error %v", err)
		}
		if err == nil {
			for i := 0; i < len(b); i++ {
				if e := ParseSSLv2ClientHello(b[:i], &h); e == nil {
					t.Fatalf("strict prefix %d parsed", i)
				}
			}
		}
	})
}

func FuzzAlert(f *testing.F) {
	f.Add([]byte{2, 40})
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAlert(b)
		if !typedErr(err) {
			t.Fatal(err)
		}
		if err == nil && (a.Level != AlertLevel(b[0]) || a.Description != AlertDescription(b[1]) || a.String() == "") {
			t.Fatal("wrong alert")
		}
		// The stream reports the same alert for a plaintext alert record.
		if len(b) == 2 {
			var r recorder
			var s Stream
			s.Feed(append([]byte{21, 3, 3, 0, 2}, b...), &r)
			if len(r.alerts) != 1 || r.alerts[0] != a {
				t.Fatalf("stream alert %v vs %v", r.alerts, a)
			}
		}
	})
}

// FuzzExtension feeds one extension body to the ClientHello decoder; typ
// selects the extension by index into decodedExtensions.
func FuzzExtension(f *testing.F) {
	for _, body := range seedBodies(f) {
		var ch ClientHello
		if ParseClientHello(body, &ch) != nil {
			continue
		}
		// re-walk the extensions to seed each decoder with real bodies
		c := cursor{b: body}
		var sub, exts cursor
		c.skip(34)
		c.vec8(&sub)
		c.vec16(&sub)
		c.vec8(&sub)
		c.vec16(&exts)
		for !exts.empty() {
			var typ uint16
			var e cursor
			if !exts.u16(&typ) || !exts.vec16(&e) {
				break
			}
			for i, et := range decodedExtensions {
				if uint16(et) == typ {
					f.Add(uint8(i), e.b)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, typ uint8, b []byte) {
		et := decodedExtensions[int(typ)%len(decodedExtensions)]
		var ch ClientHello
		err := ch.decodeExtension(et, cursor{b: b})
		var pe *ParseError
		if err != nil && !errors.As(err, &pe) {
			t.Fatalf("untyped error %v", err)
		}
		// The same body inside a full hello gives the same verdict.
		hello := make([]byte, 0, 64+len(b))
		hello = append(hello, 3, 3)
		hello = append(hello, bytes.Repeat([]byte{0}, 32)...)
		hello = append(hello, 0, 0, 2, 0x13, 0x01, 1, 0)
		n := 4 + len(b)
		hello = append(hello, byte(n>>8), byte(n), byte(et>>8), byte(et), byte(len(b)>>8), byte(len(b)))
		hello = append(hello, b...)
		if len(b) > 0xffff-4 {
			return
		}
		var ch2 ClientHello
		if err2 := ParseClientHello(hello, &ch2); err2 != nil || (ch2.ExtensionError == nil) != (err == nil) {
			t.Fatalf("in hello: %v / %v, alone: %v", err2, ch2.ExtensionError, err)
		}
	})
}

// decodedExtensions are the extension types with a body decoder.
var decodedExtensions = []ExtensionType{
	ExtServerName, ExtALPN, ExtSupportedVersions, ExtSupportedGroups, ExtSignatureAlgorithms,
	ExtSignatureAlgorithmsCert, ExtECPointFormats, ExtKeyShare, ExtPSKKeyExchangeModes,
	ExtPreSharedKey, ExtEarlyData, ExtStatusRequest, ExtSessionTicket, ExtRenegotiationInfo,
	ExtPadding, ExtRecordSizeLimit, ExtCompressCertificate, ExtApplicationSettings,
	ExtApplicationSettingsOld, ExtECH, ExtQUICTransportParams, 22, 23,
}

// FuzzServerKeyExchangeGroup: any body gives a group only when it starts
// with named_curve and has the two bytes of one, and never panics.
func FuzzServerKeyExchangeGroup(f *testing.F) {
	f.Add([]byte{3, 0, 29, 32})
	f.Add([]byte{3, 0})
	f.Add([]byte{1, 0, 23})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		g, ok := ServerKeyExchangeGroup(b)
		if ok != (len(b) >= 3 && b[0] == 3) {
			t.Fatalf("%x: ok=%v", b, ok)
		}
		if ok && g != NamedGroup(uint16(b[1])<<8|uint16(b[2])) {
			t.Fatalf("%x: group %#04x", b, uint16(g))
		}
	})
}
