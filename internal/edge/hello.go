package edge

import (
	"errors"
	"fmt"
	"io"
)

// maxHello caps the ClientHello bytes edge will buffer: a hello is untrusted
// input and RFC 8446 handshake messages are capped at 2^24, far above need.
const maxHello = 64 << 10

const (
	recordTypeHandshake  = 22
	handshakeClientHello = 1
	extensionServerName  = 0
	serverNameTypeHost   = 0
	recordHeaderLen      = 5
	handshakeHeaderLen   = 4
)

// errNotTLS says the first bytes are not a TLS handshake record.
var errNotTLS = errors.New("edge: first record is not a TLS handshake")

// Hello is what edge learnt from a ClientHello.
type Hello struct {
	// Raw holds every byte read from the client so far (whole records), to be
	// replayed to the backend. Owned by the caller.
	Raw []byte
	// ServerName is the host_name of the server_name extension; HasSNI says
	// whether the extension was present at all.
	ServerName string
	HasSNI     bool
}

// ReadHello reads TLS records from r until it holds a whole ClientHello
// handshake message (which may span several records, each of which may span
// several TCP segments) and parses its server_name extension.
func ReadHello(r io.Reader) (*Hello, error) {
	var raw, msg []byte
	hdr := make([]byte, recordHeaderLen)
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			return &Hello{Raw: raw}, fmt.Errorf("edge: read record header: %w", err)
		}
		raw = append(raw, hdr...)
		if hdr[0] != recordTypeHandshake {
			return &Hello{Raw: raw}, errNotTLS
		}
		n := int(hdr[3])<<8 | int(hdr[4])
		if n == 0 || len(raw)+n > maxHello {
			return &Hello{Raw: raw}, fmt.Errorf("edge: bad record length %d", n)
		}
		start := len(raw)
		raw = append(raw, make([]byte, n)...)
		if _, err := io.ReadFull(r, raw[start:]); err != nil {
			return &Hello{Raw: raw}, fmt.Errorf("edge: read record body: %w", err)
		}
		msg = append(msg, raw[start:]...)
		if len(msg) < handshakeHeaderLen {
			continue
		}
		if msg[0] != handshakeClientHello {
			return &Hello{Raw: raw}, fmt.Errorf("edge: handshake type %d is not a ClientHello", msg[0])
		}
		mlen := int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3])
		if mlen > maxHello {
			return &Hello{Raw: raw}, fmt.Errorf("edge: ClientHello length %d too big", mlen)
		}
		if len(msg) < handshakeHeaderLen+mlen {
			continue
		}
		h := &Hello{Raw: raw}
		name, ok, err := parseServerName(msg[handshakeHeaderLen : handshakeHeaderLen+mlen])
		if err != nil {
			return h, err
		}
		h.ServerName, h.HasSNI = name, ok
		return h, nil
	}
}

// cursor is a minimal cryptobyte-style reader: each read advances on success
// and reports failure instead of panicking on short input.
type cursor []byte

func (c *cursor) skip(n int) bool {
	if n < 0 || len(*c) < n {
		return false
	}
	*c = (*c)[n:]
	return true
}

func (c *cursor) u8() (int, bool) {
	if len(*c) < 1 {
		return 0, false
	}
	v := int((*c)[0])
	*c = (*c)[1:]
	return v, true
}

func (c *cursor) u16() (int, bool) {
	if len(*c) < 2 {
		return 0, false
	}
	v := int((*c)[0])<<8 | int((*c)[1])
	*c = (*c)[2:]
	return v, true
}

// vec reads a vector whose length prefix is lenBytes (1 or 2) long.
func (c *cursor) vec(lenBytes int) (cursor, bool) {
	var n int
	var ok bool
	if lenBytes == 1 {
		n, ok = c.u8()
	} else {
		n, ok = c.u16()
	}
	if !ok || len(*c) < n {
		return nil, false
	}
	v := (*c)[:n]
	*c = (*c)[n:]
	return v, true
}

var errMalformed = errors.New("edge: malformed ClientHello")

// parseServerName finds the host_name in the server_name extension
// (RFC 6066 section 3) of a ClientHello body.
func parseServerName(body []byte) (string, bool, error) {
	c := cursor(body)
	// legacy_version(2) random(32)
	if !c.skip(2 + 32) {
		return "", false, errMalformed
	}
	if _, ok := c.vec(1); !ok { // session_id
		return "", false, errMalformed
	}
	if _, ok := c.vec(2); !ok { // cipher_suites
		return "", false, errMalformed
	}
	if _, ok := c.vec(1); !ok { // compression_methods
		return "", false, errMalformed
	}
	if len(c) == 0 { // no extensions at all (SSL 3.0 style)
		return "", false, nil
	}
	exts, ok := c.vec(2)
	if !ok {
		return "", false, errMalformed
	}
	for len(exts) > 0 {
		typ, ok1 := exts.u16()
		data, ok2 := exts.vec(2)
		if !ok1 || !ok2 {
			return "", false, errMalformed
		}
		if typ != extensionServerName {
			continue
		}
		list, ok := data.vec(2)
		if !ok {
			return "", false, errMalformed
		}
		for len(list) > 0 {
			nt, ok1 := list.u8()
			name, ok2 := list.vec(2)
			if !ok1 || !ok2 {
				return "", false, errMalformed
			}
			if nt == serverNameTypeHost {
				return string(name), true, nil
			}
		}
		return "", true, nil
	}
	return "", false, nil
}
