package tlsparse

import (
	"errors"
	"testing"
)

// buildHello frames extensions (type, body pairs) into a ClientHello body.
func buildHello(exts ...[]byte) []byte {
	b := []byte{3, 3}
	b = append(b, make([]byte, 32)...)
	b = append(b, 0, 0, 4, 0x0a, 0x0a, 0x13, 0x01, 1, 0)
	var all []byte
	for _, e := range exts {
		all = append(all, e...)
	}
	b = append(b, byte(len(all)>>8), byte(len(all)))
	return append(b, all...)
}

func ext(typ uint16, body ...byte) []byte {
	return append([]byte{byte(typ >> 8), byte(typ), byte(len(body) >> 8), byte(len(body))}, body...)
}

func sni(name string) []byte {
	n := len(name)
	body := append([]byte{0, byte(n + 3), 0, byte(n >> 8), byte(n)}, name...)
	return ext(0, body...)
}

func TestClientHelloExtensions(t *testing.T) {
	body := buildHello(
		sni("example.com"),
		ext(0xfe0d, 0, 0, 1, 0, 1, 0x2a, 0, 3, 1, 2, 3, 0, 2, 9, 9),                         // ECH outer: HKDF-SHA256, AES-128-GCM, config 42, enc 3
		ext(41, 0, 18, 0, 4, 1, 2, 3, 4, 0, 0, 0, 0, 0, 2, 9, 9, 0, 0, 0, 0, 0, 3, 2, 7, 7), // PSK: 2 identities, 1 binder
		ext(42),
		ext(21, 0, 0, 0),
		ext(28, 0x40, 0x01),
		ext(27, 4, 0, 2, 0, 3),
		ext(0x44cd, 0, 3, 2, 'h', '2'),
		ext(57, 1, 2),
		ext(45, 1, 1),
		ext(0x0a0a),
		ext(51, 0, 10, 0x11, 0xec, 0, 2, 1, 2, 0, 29, 0, 0),
		ext(5, 1, 0, 0, 0, 0),
		ext(0xff01, 0),
		ext(35, 1, 2, 3),
	)
	var ch ClientHello
	if err := ParseClientHello(body, &ch); err != nil {
		t.Fatal(err)
	}
	if ch.ExtensionError != nil {
		t.Fatal(ch.ExtensionError)
	}
	if !ch.HasSNI || string(ch.ServerName()) != "example.com" || ch.SNIIsIP || ch.SNIInvalid {
		t.Errorf("sni %+v", ch.ServerNames)
	}
	if !ch.ECHOuter || ch.ECHKDF != 1 || ch.ECHAEAD != 1 || ch.ECHConfigID != 42 || ch.ECHEncLen != 3 {
		t.Errorf("ech %v %d %d %d %d", ch.ECHOuter, ch.ECHKDF, ch.ECHAEAD, ch.ECHConfigID, ch.ECHEncLen)
	}
	if !ch.HasPSK || ch.PSKIdentities != 2 || !ch.EarlyData || ch.PaddingLen != 3 || ch.RecordSizeLimit != 0x4001 {
		t.Errorf("psk %v %d early %v pad %d rsl %d", ch.HasPSK, ch.PSKIdentities, ch.EarlyData, ch.PaddingLen, ch.RecordSizeLimit)
	}
	if len(ch.CompressCertificate) != 2 || len(ch.ApplicationSettings) != 1 || !ch.QUICTransportParams || len(ch.PSKModes) != 1 {
		t.Error("compress/alps/quic/pskmodes")
	}
	if len(ch.KeyShares) != 2 || ch.KeyShares[0] != (KeyShare{GroupX25519MLKEM768, 2}) || ch.KeyShares[1].Group != GroupX25519 {
		t.Errorf("key shares %+v", ch.KeyShares)
	}
	if !ch.StatusRequest || !ch.RenegotiationInfo || !ch.HasSessionTicket || len(ch.SessionTicket) != 3 {
		t.Error("status/reneg/ticket")
	}
	if ch.DuplicateExtension || len(ch.Extensions) != 15 {
		t.Errorf("extensions %v", ch.Extensions)
	}
	// ECH inner marker
	if err := ParseClientHello(buildHello(ext(0xfe0d, 1)), &ch); err != nil || !ch.ECHInner {
		t.Error("ech inner", err)
	}
}

func TestClientHelloSNIFlags(t *testing.T) {
	for _, tt := range []struct {
		name               string
		ip, empty, invalid bool
	}{
		{"example.com", false, false, false},
		{"a-b.c_d.example.", false, false, false},
		{"192.0.2.1", true, false, false},
		{"2001:db8::1", true, false, false},
		{"", false, true, false},
		{"bad name", false, false, true},
		{"-lead.example", false, false, true},
		{"a..b", false, false, true},
		{"999.1.1.1", false, false, false},
	} {
		var ch ClientHello
		if err := ParseClientHello(buildHello(sni(tt.name)), &ch); err != nil {
			t.Fatal(err)
		}
		if ch.SNIIsIP != tt.ip || ch.SNIEmpty != tt.empty || ch.SNIInvalid != tt.invalid || !ch.HasSNI {
			t.Errorf("%q: ip %v empty %v invalid %v", tt.name, ch.SNIIsIP, ch.SNIEmpty, ch.SNIInvalid)
		}
	}
}

func TestClientHelloMalformed(t *testing.T) {
	var ch ClientHello
	// duplicate extension
	if err := ParseClientHello(buildHello(ext(23), ext(23)), &ch); err != nil || !ch.DuplicateExtension {
		t.Error("duplicate not flagged", err)
	}
	// nested length mismatch: recorded, parsing continues
	if err := ParseClientHello(buildHello(ext(43, 3, 3, 4), ext(23)), &ch); err != nil || ch.ExtensionError == nil || len(ch.Extensions) != 2 {
		t.Error("supported_versions mismatch not recorded", err)
	}
	var pe *ParseError
	if !errors.As(ch.ExtensionError, &pe) || pe.Field != "extension supported_versions" {
		t.Errorf("%v", ch.ExtensionError)
	}
	// extension framing overruns the block: fatal
	b := buildHello(ext(23))
	b[len(b)-1] = 5
	if err := ParseClientHello(b, &ch); !errors.As(err, &pe) {
		t.Errorf("framing: %v", err)
	}
	// trailing byte after the extensions block
	if err := ParseClientHello(append(buildHello(ext(23)), 0), &ch); !errors.As(err, &pe) {
		t.Errorf("trailing: %v", err)
	}
}

func TestServerHello(t *testing.T) {
	body := append([]byte{3, 3}, helloRetryRandom[:]...)
	body = append(body, 0, 0x13, 0x02, 0, 0, 12, 0, 43, 0, 2, 3, 4, 0, 51, 0, 2, 0x11, 0xec)
	var sh ServerHello
	if err := ParseServerHello(body, &sh); err != nil {
		t.Fatal(err)
	}
	if !sh.IsHRR || sh.Version() != VersionTLS13 || sh.KeyShareGroup != GroupX25519MLKEM768 || sh.CipherSuite != TLS_AES_256_GCM_SHA384 {
		t.Errorf("%+v", sh)
	}
	for i := 0; i < 38; i++ {
		if err := ParseServerHello(body[:i], &sh); !errors.Is(err, ErrIncomplete) {
			t.Fatalf("prefix %d: %v", i, err)
		}
	}
	alpn := append([]byte{3, 3}, make([]byte, 32)...)
	alpn = append(alpn, 0, 0xc0, 0x2f, 0, 0, 9, 0, 16, 0, 5, 0, 3, 2, 'h', '2')
	if err := ParseServerHello(alpn, &sh); err != nil || string(sh.ALPN) != "h2" || sh.IsHRR || sh.Version() != VersionTLS12 {
		t.Errorf("%v %+v", err, sh)
	}
}

func TestParseAlert(t *testing.T) {
	a, err := ParseAlert([]byte{2, 112})
	if err != nil || a.Level != AlertLevelFatal || a.Description != AlertUnrecognizedName || a.String() != "fatal unrecognized_name" {
		t.Error(a, err)
	}
	if _, err := ParseAlert([]byte{2}); !errors.Is(err, ErrIncomplete) {
		t.Error(err)
	}
}

func TestParseCertificateBadLeaf(t *testing.T) {
	var cs CertificateSummary
	if err := ParseCertificate([]byte{0, 0, 5, 0, 0, 2, 0x30, 0x00}, &cs); err != nil || cs.ParseError == nil || cs.ChainLen != 1 {
		t.Errorf("%v %+v", err, cs)
	}
	var pe *ParseError
	if err := ParseCertificate([]byte{0, 0, 5, 0, 0, 9, 0x30, 0x00, 0}, &cs); !errors.As(err, &pe) {
		t.Error(err)
	}
}
