package tlsparse

import "testing"

// TestServerHelloEarlyDraft: a TLS 1.3 draft-18 ServerHello (Firefox 52 era)
// has no session id and no compression method; its version is the draft.
func TestServerHelloEarlyDraft(t *testing.T) {
	body := []byte{0x7f, 0x12}
	body = append(body, make([]byte, 32)...)                            // random
	body = append(body, 0x13, 0x01)                                     // TLS_AES_128_GCM_SHA256
	body = append(body, 0x00, 0x08)                                     // extensions
	body = append(body, 0x00, 0x33, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x00) // key_share, x25519, empty key
	var sh ServerHello
	if err := ParseServerHello(body, &sh); err != nil {
		t.Fatal(err)
	}
	if sh.Version() != 0x7f12 || sh.Version().String() != "TLS 1.3 draft 18" || sh.CipherSuite != 0x1301 || len(sh.Extensions) != 1 {
		t.Errorf("got version %v cipher %v extensions %v", sh.Version(), sh.CipherSuite, sh.Extensions)
	}
	for n := range body {
		if n == 36 {
			continue // no extensions at all: a whole ServerHello
		}
		if err := ParseServerHello(body[:n], &sh); err == nil {
			t.Errorf("prefix of %d bytes parsed", n)
		}
	}
}
