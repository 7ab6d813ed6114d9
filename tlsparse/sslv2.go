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

// SSLv2ServerHello is a parsed SSLv2 SERVER-HELLO
// (draft-hickman-netscape-ssl-00, "Server Only Protocol Messages"): the
// server's answer to an SSLv2 CLIENT-HELLO, the last handshake message
// sent in the clear. Certificate, CipherSpecs and ConnectionID alias the
// body.
type SSLv2ServerHello struct {
	// SessionIDHit is set when the server found the client's session id
	// in its cache; the certificate and cipher specs are then empty.
	SessionIDHit bool
	// CertificateType is 1 (SSL_CT_X509_CERTIFICATE) for an X.509
	// certificate.
	CertificateType uint8
	// Version is the server's version, 0x0002 for SSL 2.0.
	Version Version
	// Certificate is the server's certificate (DER for an X.509 one).
	Certificate []byte
	// CipherSpecs holds the 3-byte cipher specs the server supports, as
	// on the wire; see [SSLv2ServerHello.CipherSpec]. Kept unsplit so
	// that parsing does not allocate.
	CipherSpecs []byte
	// ConnectionID is the server's random connection id (16 to 32 bytes).
	ConnectionID []byte
}

// NumCipherSpecs returns the number of cipher specs.
func (h *SSLv2ServerHello) NumCipherSpecs() int { return len(h.CipherSpecs) / 3 }

// CipherSpec returns the i-th cipher spec, 0 <= i < NumCipherSpecs.
func (h *SSLv2ServerHello) CipherSpec(i int) uint32 {
	b := h.CipherSpecs[3*i : 3*i+3]
	return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
}

// sslv2MsgServerHello is the SSLv2 message type of a SERVER-HELLO.
const sslv2MsgServerHello = 4

// ParseSSLv2ServerHello parses the body of an SSLv2 SERVER-HELLO record (the
// bytes after the 2-byte record header, starting with msg type 4), as given
// to [Handler.SSLv2ServerHello]. It resets h, aliases body and does not
// allocate. The three length fields must account for the body exactly; a
// body cut short gives [ErrIncomplete].
func ParseSSLv2ServerHello(body []byte, h *SSLv2ServerHello) error {
	*h = SSLv2ServerHello{}
	c := cursor{b: body}
	var typ, hit, certType uint8
	var v, certLen, specLen, cidLen uint16
	if !c.u8(&typ) || !c.u8(&hit) || !c.u8(&certType) || !c.u16(&v) ||
		!c.u16(&certLen) || !c.u16(&specLen) || !c.u16(&cidLen) {
		return ErrIncomplete
	}
	if typ != sslv2MsgServerHello {
		return perr("sslv2 msg_type", 0, "not a server hello")
	}
	if specLen%3 != 0 {
		return perr("sslv2 cipher_specs", 7, "length not a multiple of 3")
	}
	// The draft bounds the connection id like the client's challenge.
	if cidLen < 16 || cidLen > 32 {
		return perr("sslv2 connection_id", 9, "length not in 16..32")
	}
	h.SessionIDHit = hit != 0
	h.CertificateType = certType
	h.Version = Version(v)
	var ok bool
	if h.Certificate, ok = c.bytes(int(certLen)); !ok {
		return ErrIncomplete
	}
	if h.CipherSpecs, ok = c.bytes(int(specLen)); !ok {
		return ErrIncomplete
	}
	if h.ConnectionID, ok = c.bytes(int(cidLen)); !ok {
		return ErrIncomplete
	}
	if !c.empty() {
		return perr("sslv2 server_hello", c.off, "trailing bytes")
	}
	return nil
}
