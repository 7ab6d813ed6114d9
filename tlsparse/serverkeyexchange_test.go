package tlsparse

import "testing"

func TestServerKeyExchangeGroup(t *testing.T) {
	for _, tt := range []struct {
		name string
		body []byte
		want NamedGroup
		ok   bool
	}{
		// An x25519 ServerKeyExchange as OpenSSL sends it: named_curve,
		// x25519, a 32-byte point, then the signature (cut here).
		{"x25519", append([]byte{3, 0x00, 0x1d, 32}, make([]byte, 32)...), GroupX25519, true},
		{"secp256r1", []byte{3, 0x00, 0x17, 65, 4}, GroupSecp256r1, true},
		{"explicit prime", []byte{1, 0, 0}, 0, false},
		{"short", []byte{3, 0}, 0, false},
		{"empty", nil, 0, false},
	} {
		g, ok := ServerKeyExchangeGroup(tt.body)
		if g != tt.want || ok != tt.ok {
			t.Errorf("%s: %v %v, want %v %v", tt.name, g, ok, tt.want, tt.ok)
		}
	}
}

func TestCipherSuiteECDHE(t *testing.T) {
	for c, want := range map[CipherSuite]bool{
		TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: true,
		0xc009:                                true,  // TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA
		0xc018:                                true,  // TLS_ECDH_anon_WITH_AES_128_CBC_SHA
		0xc004:                                false, // TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA: static, no ServerKeyExchange
		0xc035:                                false, // TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA
		0x009e:                                false, // TLS_DHE_RSA_WITH_AES_128_GCM_SHA256
		TLS_AES_128_GCM_SHA256:                false,
		0x0a0a:                                false,
	} {
		if got := c.ECDHE(); got != want {
			t.Errorf("%v.ECDHE() = %v, want %v", c, got, want)
		}
	}
}
