package quic

// PacketType is the kind of a QUIC packet, independent of the version's
// type bits.
type PacketType uint8

// Packet types (RFC 9000 §17).
const (
	PacketInitial PacketType = iota + 1
	PacketZeroRTT
	PacketHandshake
	PacketRetry
	PacketVersionNegotiation
	PacketShort // 1-RTT (short header)
)

var packetTypeNames = [...]string{"", "Initial", "0-RTT", "Handshake", "Retry", "VersionNegotiation", "1-RTT"}

// String returns the RFC's name of the packet type.
func (t PacketType) String() string {
	if int(t) < len(packetTypeNames) && t != 0 {
		return packetTypeNames[t]
	}
	return "unknown"
}

// MaxCIDLen is the longest connection ID of QUIC v1 and v2 (RFC 9000 §17.2).
const MaxCIDLen = 20

// Header is a parsed long header, still under header protection: the
// packet number length and the reserved bits are not known until the
// protection is removed (see [Keys.Open]). Its slices alias the parsed
// packet.
type Header struct {
	Type    PacketType
	Version Version
	DCID    []byte
	SCID    []byte
	// Token is the Initial packet's token, or the Retry packet's retry token.
	Token []byte
	// PNOffset is the offset of the (protected) packet number; PacketLen
	// is the length of the whole packet, the rest of a datagram being the
	// next coalesced packet (RFC 9000 §12.2). Zero for Retry, Version
	// Negotiation and short headers, which extend to the datagram's end.
	PNOffset  int
	PacketLen int
	// Versions is the raw list of a Version Negotiation packet (4 bytes each).
	Versions []byte
	// RetryTag is a Retry packet's 16-byte integrity tag.
	RetryTag []byte
}

// reset clears h, keeping nothing from an earlier parse.
func (h *Header) reset() { *h = Header{} }

// ParseHeader parses the long header at the start of b (one datagram, or
// what is left of it after earlier coalesced packets) into h, which aliases
// b. A short header gives ErrNotLongHeader with h.Type = PacketShort and
// h.PacketLen = len(b). Versions whose layout is not known give
// ErrUnknownVersion with Version, DCID and SCID filled in (their
// invariant part, RFC 8999 §5.1).
func ParseHeader(b []byte, h *Header) error {
	h.reset()
	if len(b) == 0 {
		return ErrTruncated
	}
	if b[0]&0x80 == 0 {
		h.Type = PacketShort
		h.PacketLen = len(b)
		return ErrNotLongHeader
	}
	if len(b) < 7 {
		return ErrTruncated
	}
	h.Version = Version(uint32(b[1])<<24 | uint32(b[2])<<16 | uint32(b[3])<<8 | uint32(b[4]))
	off := 5
	dl := int(b[off])
	off++
	if len(b) < off+dl+1 {
		return ErrTruncated
	}
	h.DCID = b[off : off+dl : off+dl]
	off += dl
	sl := int(b[off])
	off++
	if len(b) < off+sl {
		return ErrTruncated
	}
	h.SCID = b[off : off+sl : off+sl]
	off += sl
	if h.Version == VersionNegotiation {
		// RFC 9000 §17.2.1: the first byte's other bits are arbitrary.
		h.Type = PacketVersionNegotiation
		h.Versions = b[off:len(b):len(b)]
		if len(h.Versions)%4 != 0 || len(h.Versions) == 0 {
			return perr("supported versions", off, "length not a positive multiple of 4")
		}
		return nil
	}
	p := h.Version.params()
	if p == nil {
		return ErrUnknownVersion
	}
	if dl > MaxCIDLen {
		return perr("destination connection id", 5, "longer than 20 bytes")
	}
	if sl > MaxCIDLen {
		return perr("source connection id", 6+dl, "longer than 20 bytes")
	}
	if b[0]&0x40 == 0 {
		// The fixed bit (RFC 9000 §17.2) must be set; a cleared bit means
		// this is not a v1/v2 packet.
		return perr("fixed bit", 0, "is 0")
	}
	switch (b[0] >> 4) & 3 {
	case p.initial:
		h.Type = PacketInitial
	case p.zeroRTT:
		h.Type = PacketZeroRTT
	case p.handshake:
		h.Type = PacketHandshake
	case p.retryTy:
		h.Type = PacketRetry
		if p.retryKey == nil {
			// Drafts before 29: no integrity tag.
			h.Token = b[off:len(b):len(b)]
			return nil
		}
		if len(b)-off < 16 {
			return ErrTruncated
		}
		h.Token = b[off : len(b)-16 : len(b)-16]
		h.RetryTag = b[len(b)-16:]
		return nil
	}
	if h.Type == PacketInitial {
		tl, n := ReadVarint(b[off:])
		if n == 0 {
			return ErrTruncated
		}
		off += n
		if tl > uint64(len(b)-off) {
			return ErrTruncated
		}
		h.Token = b[off : off+int(tl) : off+int(tl)]
		off += int(tl)
	}
	ln, n := ReadVarint(b[off:])
	if n == 0 {
		return ErrTruncated
	}
	off += n
	if ln > uint64(len(b)-off) {
		return ErrTruncated
	}
	if ln < 1+16 {
		// At least a 1-byte packet number and the AEAD tag.
		return perr("length", off-n, "too short for a packet number and tag")
	}
	h.PNOffset = off
	h.PacketLen = off + int(ln)
	return nil
}

// ReadVarint decodes a variable-length integer (RFC 9000 §16) from the start
// of b, returning it and the bytes consumed (0 when b is too short).
func ReadVarint(b []byte) (uint64, int) {
	if len(b) == 0 {
		return 0, 0
	}
	n := 1 << (b[0] >> 6)
	if len(b) < n {
		return 0, 0
	}
	v := uint64(b[0] & 0x3f)
	for i := 1; i < n; i++ {
		v = v<<8 | uint64(b[i])
	}
	return v, n
}

// AppendVarint appends v in the shortest variable-length encoding. Values
// of 2^62 and above do not fit and are truncated to their low 62 bits.
func AppendVarint(dst []byte, v uint64) []byte {
	v &= 1<<62 - 1
	switch {
	case v < 1<<6:
		return append(dst, byte(v))
	case v < 1<<14:
		return append(dst, 0x40|byte(v>>8), byte(v))
	case v < 1<<30:
		return append(dst, 0x80|byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return append(dst, 0xc0|byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// LooksLikeInitial is a cheap test, before any parsing, of whether a UDP
// payload may start with a QUIC Initial packet of a known version: long
// header, fixed bit, the version's Initial type bits, and a client-sized
// datagram. Clients pad datagrams with Initial packets to 1200 bytes (RFC
// 9000 §14.1); smaller ones are allowed by drafts and some stacks, so the
// size is not checked here.
func LooksLikeInitial(b []byte) bool {
	if len(b) < 7 || b[0]&0xc0 != 0xc0 {
		return false
	}
	v := Version(uint32(b[1])<<24 | uint32(b[2])<<16 | uint32(b[3])<<8 | uint32(b[4]))
	p := v.params()
	return p != nil && (b[0]>>4)&3 == p.initial
}
