package quic

import "strconv"

// Version is a QUIC version number (RFC 9000 §15).
type Version uint32

// Versions whose Initial protection is known. Drafts 23 to 32 use the v1
// packet layout with their own salts (draft-ietf-quic-tls §5.2).
const (
	VersionNegotiation Version = 0x00000000 // Version Negotiation packets (RFC 9000 §17.2.1)
	Version1           Version = 0x00000001 // RFC 9000
	Version2           Version = 0x6b3343cf // RFC 9369
	VersionDraft29     Version = 0xff00001d

	// Facebook's mvfst versions, seen in the wild (nDPI reads them too).
	versionMvfst1   Version = 0xfaceb001 // draft-22 salt
	versionMvfst2   Version = 0xfaceb002 // draft-27 salt
	versionMvfstExp Version = 0xfaceb00e // draft-27 salt
)

// String returns "v1", "v2", "draft-29", or the hex number.
func (v Version) String() string {
	switch {
	case v == Version1:
		return "v1"
	case v == Version2:
		return "v2"
	case v == VersionNegotiation:
		return "negotiation"
	case v>>8 == 0xff0000:
		return "draft-" + strconv.Itoa(int(v&0xff))
	case v == versionMvfst1, v == versionMvfst2, v == versionMvfstExp:
		return "mvfst-0x" + strconv.FormatUint(uint64(v), 16)
	case v&0x0f0f0f0f == 0x0a0a0a0a:
		return "grease-0x" + strconv.FormatUint(uint64(v), 16)
	}
	return "0x" + strconv.FormatUint(uint64(v), 16)
}

// Known reports whether v's Initial packets can be opened.
func (v Version) Known() bool { return v.params() != nil }

// versionParams are what a version changes in Initial protection.
type versionParams struct {
	salt               []byte
	keyLabel, ivLabel  string
	hpLabel            string
	retryKey, retryIV  []byte
	initial, zeroRTT   uint8 // long packet type bits (first byte bits 4-5)
	handshake, retryTy uint8
}

var (
	v1Params = &versionParams{
		// RFC 9001 §5.2
		salt:     []byte{0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a},
		keyLabel: "quic key", ivLabel: "quic iv", hpLabel: "quic hp",
		// RFC 9001 §5.8
		retryKey: []byte{0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a, 0x1d, 0x76, 0x6b, 0x54, 0xe3, 0x68, 0xc8, 0x4e},
		retryIV:  []byte{0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63, 0x2b, 0xf2, 0x23, 0x98, 0x25, 0xbb},
		initial:  0, zeroRTT: 1, handshake: 2, retryTy: 3,
	}
	v2Params = &versionParams{
		// RFC 9369 §3.3.1
		salt:     []byte{0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9},
		keyLabel: "quicv2 key", ivLabel: "quicv2 iv", hpLabel: "quicv2 hp",
		// RFC 9369 §3.3.3
		retryKey: []byte{0x8f, 0xb4, 0xb0, 0x1b, 0x56, 0xac, 0x48, 0xe2, 0x60, 0xfb, 0xcb, 0xce, 0xad, 0x7c, 0xcc, 0x92},
		retryIV:  []byte{0xd8, 0x69, 0x69, 0xbc, 0x2d, 0x7c, 0x6d, 0x99, 0x90, 0xef, 0xb0, 0x4a},
		// RFC 9369 §3.2
		initial: 1, zeroRTT: 2, handshake: 3, retryTy: 0,
	}
	draft29Params = &versionParams{
		// draft-ietf-quic-tls-29 §5.2 (also drafts 30 to 32)
		salt:     []byte{0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99},
		keyLabel: "quic key", ivLabel: "quic iv", hpLabel: "quic hp",
		retryKey: []byte{0xcc, 0xce, 0x18, 0x7e, 0xd0, 0x9a, 0x09, 0xd0, 0x57, 0x28, 0x15, 0x5a, 0x6c, 0xb9, 0x6b, 0xe1},
		retryIV:  []byte{0xe5, 0x49, 0x30, 0xf9, 0x7f, 0x21, 0x36, 0xf0, 0x53, 0x0a, 0x8c, 0x1c},
		initial:  0, zeroRTT: 1, handshake: 2, retryTy: 3,
	}
	draft22Params = &versionParams{
		// draft-ietf-quic-tls-22 §5.2 (also Facebook's mvfst 0xfaceb001)
		salt:     []byte{0x7f, 0xbc, 0xdb, 0x0e, 0x7c, 0x66, 0xbb, 0xe9, 0x19, 0x3a, 0x96, 0xcd, 0x21, 0x51, 0x9e, 0xbd, 0x7a, 0x02, 0x64, 0x4a},
		keyLabel: "quic key", ivLabel: "quic iv", hpLabel: "quic hp",
		initial: 0, zeroRTT: 1, handshake: 2, retryTy: 3,
	}
	draft23Params = &versionParams{
		// draft-ietf-quic-tls-23 §5.2 (drafts 23 to 28); their Retry has no
		// integrity tag (it carried the original DCID instead).
		salt:     []byte{0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7, 0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65, 0xbe, 0xf9, 0xf5, 0x02},
		keyLabel: "quic key", ivLabel: "quic iv", hpLabel: "quic hp",
		initial: 0, zeroRTT: 1, handshake: 2, retryTy: 3,
	}
)

func (v Version) params() *versionParams {
	switch {
	case v == Version1:
		return v1Params
	case v == Version2:
		return v2Params
	case v == 0xff000021 || v == 0xff000022:
		// Drafts 33 and 34 already used the v1 salt and Retry key.
		return v1Params
	case v >= 0xff00001d && v <= 0xff000020:
		return draft29Params
	case v >= 0xff000017 && v <= 0xff00001c, v == versionMvfst2, v == versionMvfstExp:
		return draft23Params
	case v == 0xff000016, v == versionMvfst1:
		return draft22Params
	}
	return nil
}
