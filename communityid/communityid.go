package communityid

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"net/netip"
)

// IP protocol numbers (IANA) whose ports, or ICMP types and codes, take
// part in the hash. Flows of any other protocol hash the addresses and the
// protocol only.
const (
	ProtoICMP   uint8 = 1
	ProtoTCP    uint8 = 6
	ProtoUDP    uint8 = 17
	ProtoICMPv6 uint8 = 58
	ProtoSCTP   uint8 = 132
)

// Prefix is the version prefix of every Community ID v1 string.
const Prefix = "1:"

// Len is the length of a base64 Community ID v1 string: "1:" and 28
// characters of base64 for the 20-byte SHA-1 digest.
const Len = len(Prefix) + 28

// Flow is a flow tuple as Community ID v1 hashes it. Build one with [TCP],
// [UDP], [ICMP], [ICMPv6] or as a literal for other protocols.
type Flow struct {
	Proto    uint8
	Src, Dst netip.Addr
	// SrcPort and DstPort are the transport ports (TCP, UDP, SCTP) or, for
	// ICMP and ICMPv6, the port equivalents of the message's type and code
	// (see [ICMP]). They are not hashed for other protocols.
	SrcPort, DstPort uint16
	// OneWay keeps the endpoints in the order given instead of ordering
	// them: the spec's treatment of ICMP messages that have no counterpart
	// message type (errors, for instance).
	OneWay bool
}

// TCP returns the flow of a TCP connection between src and dst.
func TCP(src, dst netip.AddrPort) Flow {
	return Flow{Proto: ProtoTCP, Src: src.Addr(), Dst: dst.Addr(), SrcPort: src.Port(), DstPort: dst.Port()}
}

// UDP returns the flow of UDP datagrams (a QUIC connection, for instance)
// between src and dst.
func UDP(src, dst netip.AddrPort) Flow {
	return Flow{Proto: ProtoUDP, Src: src.Addr(), Dst: dst.Addr(), SrcPort: src.Port(), DstPort: dst.Port()}
}

// Valid reports whether f can be hashed: both addresses are valid and of
// the same family (an IPv4-mapped IPv6 address counts as IPv6, as it is 16
// bytes on the wire).
func (f Flow) Valid() bool {
	return f.Src.IsValid() && f.Dst.IsValid() && f.Src.BitLen() == f.Dst.BitLen()
}

// hasPorts reports whether the protocol's ports are part of the hash.
func hasPorts(proto uint8) bool {
	switch proto {
	case ProtoTCP, ProtoUDP, ProtoSCTP, ProtoICMP, ProtoICMPv6:
		return true
	}
	return false
}

// Sum returns the SHA-1 digest of f under seed: the Community ID before its
// encoding. ok is false when f is not [Flow.Valid].
func (f Flow) Sum(seed uint16) (sum [sha1.Size]byte, ok bool) {
	if !f.Valid() {
		return sum, false
	}
	// 2 (seed) + 2*16 (addresses) + 2 (proto, pad) + 4 (ports).
	var buf [40]byte
	buf[0], buf[1] = byte(seed>>8), byte(seed)
	n := 2
	var a, b []byte
	var a4, b4 [4]byte
	var a16, b16 [16]byte
	if f.Src.Is4() {
		a4, b4 = f.Src.As4(), f.Dst.As4()
		a, b = a4[:], b4[:]
	} else {
		a16, b16 = f.Src.As16(), f.Dst.As16()
		a, b = a16[:], b16[:]
	}
	sp, dp := f.SrcPort, f.DstPort
	if !f.OneWay && !less(a, b, sp, dp) {
		a, b = b, a
		sp, dp = dp, sp
	}
	n += copy(buf[n:], a)
	n += copy(buf[n:], b)
	buf[n], buf[n+1] = f.Proto, 0
	n += 2
	if hasPorts(f.Proto) {
		buf[n], buf[n+1], buf[n+2], buf[n+3] = byte(sp>>8), byte(sp), byte(dp>>8), byte(dp)
		n += 4
	}
	return sha1.Sum(buf[:n]), true
}

// less reports whether endpoint (a, ap) sorts before (b, bp): the smaller
// address first, the ports deciding when the addresses are equal. An equal
// pair is not less, so it is swapped; both orders hash alike then.
func less(a, b []byte, ap, bp uint16) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return ap < bp
}

// Append appends f's Community ID under seed ("1:" and the base64 of the
// digest) to dst and returns the extended slice. It appends nothing when f
// is not [Flow.Valid] (the spec lets a monitor report an empty ID for a
// flow it cannot hash). It does not allocate when dst has room for [Len]
// more bytes.
func (f Flow) Append(dst []byte, seed uint16) []byte {
	sum, ok := f.Sum(seed)
	if !ok {
		return dst
	}
	var enc [Len]byte
	copy(enc[:], Prefix)
	base64.StdEncoding.Encode(enc[len(Prefix):], sum[:])
	return append(dst, enc[:]...)
}

// AppendHex is [Flow.Append] with the digest in lower-case hex instead of
// base64 (the spec's "no base64" form, for troubleshooting).
func (f Flow) AppendHex(dst []byte, seed uint16) []byte {
	sum, ok := f.Sum(seed)
	if !ok {
		return dst
	}
	var enc [len(Prefix) + 2*sha1.Size]byte
	copy(enc[:], Prefix)
	hex.Encode(enc[len(Prefix):], sum[:])
	return append(dst, enc[:]...)
}

// String returns f's Community ID with the default seed 0, or "" when f is
// not [Flow.Valid].
func (f Flow) String() string {
	var b [Len]byte
	return string(f.Append(b[:0], 0))
}
