package tlsparse

import "bytes"

// helloRetryRandom is the fixed Random of a HelloRetryRequest, SHA-256 of
// "HelloRetryRequest" (RFC 8446, 4.1.3).
var helloRetryRandom = [32]byte{
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
}

// ServerHello is a parsed ServerHello or HelloRetryRequest. []byte fields
// alias the parsed body.
type ServerHello struct {
	LegacyVersion Version
	Random        []byte
	SessionID     []byte
	CipherSuite   CipherSuite
	Compression   uint8
	// Extensions lists extension types in wire order.
	Extensions []ExtensionType
	// SelectedVersion is the supported_versions selection, 0 if absent.
	SelectedVersion Version
	// ALPN is the selected protocol, nil if none.
	ALPN []byte
	// KeyShareGroup is the key_share group (for a HelloRetryRequest, the
	// group the server asks for), 0 if absent.
	KeyShareGroup NamedGroup
	HasPSK        bool
	// IsHRR is set when Random is the HelloRetryRequest magic value.
	IsHRR bool
	// ExtendedMasterSecret and RenegotiationInfo report those extensions.
	ExtendedMasterSecret bool
	RenegotiationInfo    bool
	DuplicateExtension   bool
}

// Version returns SelectedVersion if set, else LegacyVersion.
func (sh *ServerHello) Version() Version {
	if sh.SelectedVersion != 0 {
		return sh.SelectedVersion
	}
	return sh.LegacyVersion
}

// ParseServerHello parses a ServerHello handshake body (without the 4-byte
// header) into sh, resetting it and reusing its Extensions capacity. A body
// that ends inside a field gives [ErrIncomplete]; a nested length mismatch
// gives a *[ParseError].
func ParseServerHello(body []byte, sh *ServerHello) error {
	*sh = ServerHello{Extensions: sh.Extensions[:0]}
	c := cursor{b: body}
	var v uint16
	var ok bool
	if !c.u16(&v) {
		return ErrIncomplete
	}
	sh.LegacyVersion = Version(v)
	if sh.Random, ok = c.bytes(32); !ok {
		return ErrIncomplete
	}
	sh.IsHRR = bytes.Equal(sh.Random, helloRetryRandom[:])
	if isEarlyDraft13(sh.LegacyVersion) {
		// TLS 1.3 drafts before 22 (Chrome 55-64, Firefox 52-57): the
		// version itself, no session id, no compression method
		// (draft-ietf-tls-tls13-21, section 4.1.3).
		sh.SelectedVersion = sh.LegacyVersion
		if !c.u16(&v) {
			return ErrIncomplete
		}
		sh.CipherSuite = CipherSuite(v)
	} else {
		var sub cursor
		if !c.vec8(&sub) {
			return ErrIncomplete
		}
		if len(sub.b) > 32 {
			return perr("server_hello session_id", sub.off-1, "longer than 32 bytes")
		}
		sh.SessionID = sub.b
		if !c.u16(&v) {
			return ErrIncomplete
		}
		sh.CipherSuite = CipherSuite(v)
		if !c.u8(&sh.Compression) {
			return ErrIncomplete
		}
	}
	if c.empty() {
		return nil
	}
	var exts cursor
	if !c.vec16(&exts) {
		return ErrIncomplete
	}
	if !c.empty() {
		return perr("server_hello", c.off, "trailing bytes after extensions")
	}
	for !exts.empty() {
		var typ uint16
		var e cursor
		start := exts.off
		if !exts.u16(&typ) || !exts.vec16(&e) {
			return perr("server_hello extensions", start, "truncated extension")
		}
		et := ExtensionType(typ)
		for _, x := range sh.Extensions {
			if x == et {
				sh.DuplicateExtension = true
			}
		}
		sh.Extensions = append(sh.Extensions, et)
		switch et {
		case ExtSupportedVersions:
			if !e.u16(&v) || !e.empty() {
				return extErr(et, e.off, "bad selected_version")
			}
			sh.SelectedVersion = Version(v)
		case ExtALPN:
			var list, p cursor
			if !e.vec16(&list) || !e.empty() || !list.vec8(&p) || !list.empty() {
				return extErr(et, e.off, "bad selected protocol")
			}
			sh.ALPN = p.b
		case ExtKeyShare, extKeyShareDraft:
			if et == extKeyShareDraft && sh.KeyShareGroup != 0 {
				break
			}
			if !e.u16(&v) {
				return extErr(et, e.off, "bad key_share")
			}
			sh.KeyShareGroup = NamedGroup(v)
			if !sh.IsHRR {
				var kx cursor
				if !e.vec16(&kx) || !e.empty() {
					return extErr(et, e.off, "bad key_share entry")
				}
			} else if !e.empty() {
				return extErr(et, e.off, "bad hello_retry_request key_share")
			}
		case ExtPreSharedKey:
			if !e.u16(&v) || !e.empty() {
				return extErr(et, e.off, "bad selected_identity")
			}
			sh.HasPSK = true
		case 23:
			sh.ExtendedMasterSecret = true
		case ExtRenegotiationInfo:
			sh.RenegotiationInfo = true
		}
	}
	return nil
}

// serverHelloQuick reports, without allocating, whether a ServerHello body
// is a HelloRetryRequest and which version supported_versions selects (0 if
// none or on malformed input).
func serverHelloQuick(body []byte) (hrr bool, v Version) {
	c := cursor{b: body}
	var rnd []byte
	var ok bool
	var legacy uint16
	if !c.u16(&legacy) {
		return false, 0
	}
	if rnd, ok = c.bytes(32); !ok {
		return false, 0
	}
	hrr = bytes.Equal(rnd, helloRetryRandom[:])
	if isEarlyDraft13(Version(legacy)) {
		// The draft layout carries the version itself (and ciphertext
		// follows it as in TLS 1.3).
		if !c.skip(2) {
			return hrr, 0
		}
		return hrr, Version(legacy)
	}
	var sub, exts cursor
	if !c.vec8(&sub) || !c.skip(3) || !c.vec16(&exts) {
		return hrr, 0
	}
	for !exts.empty() {
		var typ, x uint16
		var e cursor
		if !exts.u16(&typ) || !exts.vec16(&e) {
			return hrr, 0
		}
		if ExtensionType(typ) == ExtSupportedVersions && e.u16(&x) {
			v = Version(x)
		}
	}
	return hrr, v
}

// isEarlyDraft13 reports whether v is a TLS 1.3 draft version (0x7fNN)
// older than draft 22, whose ServerHello has the draft layout.
func isEarlyDraft13(v Version) bool { return v>>8 == 0x7f && v&0xff < 22 }

// extKeyShareDraft is key_share's code point in TLS 1.3 drafts before 23
// (and Google's 0x7e01 experiment): 40, unassigned in the final registry,
// so no other extension uses it.
const extKeyShareDraft ExtensionType = 40
