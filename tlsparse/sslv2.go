package tlsparse

// SSLv2Hello is a parsed SSLv2-compatible ClientHello (RFC 5246, E.2;
// draft-hickman-netscape-ssl-00). Challenge and SessionID alias the body.
type SSLv2Hello struct {
	// Version is the highest version the client supports (0x0002 for SSL
	// 2.0, 0x0300+ for a client that can speak SSL 3.0 or TLS).
	Version Version
	// CipherSpecs are the 3-byte cipher specs; those with a zero first byte
	// are TLS cipher suites (see [SSLv2Hello.CipherSuites]).
	CipherSpecs []uint32
	SessionID   []byte
	Challenge   []byte
}

// CipherSuites appends the cipher specs that are TLS cipher suites (first
// byte zero) to dst.
func (h *SSLv2Hello) CipherSuites(dst []CipherSuite) []CipherSuite {
	for _, s := range h.CipherSpecs {
		if s>>16 == 0 {
			dst = append(dst, CipherSuite(s))
		}
	}
	return dst
}

// ParseSSLv2ClientHello parses the body of an SSLv2 ClientHello record (the
// bytes after the 2-byte record header, starting with msg type 1), as given to
// [Handler.SSLv2ClientHello]. It resets h and reuses CipherSpecs' capacity.
func ParseSSLv2ClientHello(body []byte, h *SSLv2Hello) error {
	*h = SSLv2Hello{CipherSpecs: h.CipherSpecs[:0]}
	c := cursor{b: body}
	var typ uint8
	var v, specLen, sidLen, chLen uint16
	if !c.u8(&typ) || !c.u16(&v) || !c.u16(&specLen) || !c.u16(&sidLen) || !c.u16(&chLen) {
		return ErrIncomplete
	}
	if typ != 1 {
		return perr("sslv2 msg_type", 0, "not a client hello")
	}
	h.Version = Version(v)
	if specLen%3 != 0 {
		return perr("sslv2 cipher_specs", 3, "length not a multiple of 3")
	}
	if sidLen != 0 && sidLen != 16 {
		return perr("sslv2 session_id", 5, "length not 0 or 16")
	}
	if chLen < 16 || chLen > 32 {
		return perr("sslv2 challenge", 7, "length not in 16..32")
	}
	specs, ok := c.bytes(int(specLen))
	if !ok {
		return ErrIncomplete
	}
	if h.SessionID, ok = c.bytes(int(sidLen)); !ok {
		return ErrIncomplete
	}
	if h.Challenge, ok = c.bytes(int(chLen)); !ok {
		return ErrIncomplete
	}
	if !c.empty() {
		return perr("sslv2 client_hello", c.off, "trailing bytes")
	}
	for i := 0; i+3 <= len(specs); i += 3 {
		h.CipherSpecs = append(h.CipherSpecs, uint32(specs[i])<<16|uint32(specs[i+1])<<8|uint32(specs[i+2]))
	}
	return nil
}
