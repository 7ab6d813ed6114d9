package tlsparse

import "testing"

// TestJA4SpecExample pins the worked example of the FoxIO JA4 specification
// (technical_details/JA4.md) and its reference tests: Chrome's hello with
// SNI, ALPN h2, 15 ciphers, 16 extensions.
func TestJA4SpecExample(t *testing.T) {
	ch := &ClientHello{
		LegacyVersion:     VersionTLS12,
		SupportedVersions: []Version{0x0a0a, VersionTLS13, VersionTLS12},
		CipherSuites: []CipherSuite{0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030,
			0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035},
		Extensions: []ExtensionType{0x0a0a, 0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d,
			0x000d, 0x0005, 0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015, 0x1a1a},
		ALPN:                [][]byte{[]byte("h2"), []byte("http/1.1")},
		SignatureAlgorithms: []SignatureScheme{0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601},
		HasSNI:              true,
	}
	for _, tt := range []struct{ name, got, want string }{
		{"ja4", string(ch.JA4(nil)), "t13d1516h2_8daaf6152771_e5627efa2ab1"},
		{"ja4_r", string(ch.JA4R(nil)), "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601"},
		{"ja4_o", string(ch.JA4O(nil)), "t13d1516h2_acb858a92679_18f69afefd3d"},
		{"ja4_ro", string(ch.JA4RO(nil)), "t13d1516h2_1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035_001b,0000,0033,0010,4469,0017,002d,000d,0005,0023,0012,002b,ff01,000b,000a,0015_0403,0804,0401,0503,0805,0501,0806,0601"},
		{"quic", string(ch.JA4With(nil, 'q', true, false)), "q13d1516h2_8daaf6152771_e5627efa2ab1"},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %s, want %s", tt.name, tt.got, tt.want)
		}
	}
}

// TestJA4ALPN pins the spec's ALPN rules: first and last character, "00"
// when absent or empty, a single character doubled, and hex digits when the
// first or last byte is not alphanumeric.
func TestJA4ALPN(t *testing.T) {
	for _, tt := range []struct {
		alpn [][]byte
		want string
	}{
		{nil, "00"},
		{[][]byte{{}}, "00"},
		{[][]byte{[]byte("h2")}, "h2"},
		{[][]byte{[]byte("http/1.1")}, "h1"},
		{[][]byte{[]byte("q")}, "qq"},
		{[][]byte{{0xab}}, "ab"},
		{[][]byte{{0xab, 0xcd}}, "ad"},
		{[][]byte{{0x30, 0xab}}, "3b"},
		{[][]byte{{0x30, 0x31, 0xab, 0xcd}}, "3d"},
		{[][]byte{{0x30, 0xab, 0xcd, 0x31}}, "01"},
	} {
		ch := &ClientHello{LegacyVersion: VersionTLS12, ALPN: tt.alpn}
		if got := string(ch.JA4(nil)[8:10]); got != tt.want {
			t.Errorf("ALPN %x: %s, want %s", tt.alpn, got, tt.want)
		}
	}
}

func TestJA4Versions(t *testing.T) {
	for v, want := range map[Version]string{VersionTLS13: "13", VersionTLS12: "12", VersionTLS11: "11",
		VersionTLS10: "10", VersionSSL30: "s3", VersionSSL20: "s2", 0x7f1c: "00"} {
		ch := &ClientHello{LegacyVersion: v}
		if got := string(ch.JA4(nil)[1:3]); got != want {
			t.Errorf("%v: %s want %s", v, got, want)
		}
	}
	// No ciphers, no extensions: zero hashes, no trailing sigalg part.
	ch := &ClientHello{LegacyVersion: VersionTLS12}
	if got := string(ch.JA4(nil)); got != "t12i000000_000000000000_000000000000" {
		t.Error(got)
	}
}

func TestJA3(t *testing.T) {
	ch := &ClientHello{
		LegacyVersion:   VersionTLS12,
		CipherSuites:    []CipherSuite{0x0a0a, 49199, 49200, 156},
		Extensions:      []ExtensionType{0x1a1a, 0, 43, 13, 10},
		SupportedGroups: []NamedGroup{0x2a2a, 29, 23},
	}
	if got := string(ch.JA3String(nil)); got != "771,49199-49200-156,0-43-13-10,29-23," {
		t.Fatal(got)
	}
}

func TestStrings(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{VersionSSL30.String(), "SSL 3.0"}, {VersionTLS13.String(), "TLS 1.3"}, {VersionSSL20.String(), "SSL 2.0"},
		{Version(0x3a3a).String(), "GREASE"}, {Version(0x7f17).String(), "TLS 1.3 draft 23"}, {Version(0x7e01).String(), "0x7e01"},
		{AlertHandshakeFailure.String(), "handshake_failure"}, {AlertUnrecognizedName.String(), "unrecognized_name"},
		{AlertDescription(200).String(), "unknown(200)"}, {AlertNoApplicationProtocol.String(), "no_application_protocol"},
		{TLS_AES_128_GCM_SHA256.String(), "TLS_AES_128_GCM_SHA256"},
		{TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256.String(), "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
		{CipherSuite(0xcca8).String(), "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
		{GroupX25519MLKEM768.String(), "X25519MLKEM768"}, {ExtKeyShare.String(), "key_share"},
		{ExtECH.String(), "encrypted_client_hello"}, {SignatureScheme(0x0804).String(), "rsa_pss_rsae_sha256"},
		{ContentTypeAlert.String(), "alert"}, {HandshakeServerHello.String(), "server_hello"},
		{(&ParseError{"x", 3, "bad"}).Error(), "tlsparse: x at offset 3: bad"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q want %q", tt.got, tt.want)
		}
	}
}
