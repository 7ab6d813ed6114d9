package capture

import "encoding/binary"

// sll2HeaderLen is the size of a LINKTYPE_LINUX_SLL2 header
// (https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL2.html):
//
//	0  protocol type (EtherType), big-endian
//	2  reserved (must be zero)
//	4  interface index, big-endian
//	8  ARPHRD_ type, big-endian
//	10 packet type (0 to us, 1 broadcast, 2 multicast, 3 to someone else, 4 sent by us)
//	11 link-layer address length
//	12 link-layer address (8 bytes, zero-padded)
const sll2HeaderLen = 20

// SLL2Header is the decoded LINUX_SLL2 header.
type SLL2Header struct {
	Protocol   uint16 // EtherType of the payload
	IfIndex    uint32 // interface index on the capturing host
	ARPHRD     uint16 // link-layer (ARPHRD_) type
	PacketType uint8  // 0 host, 1 broadcast, 2 multicast, 3 other host, 4 outgoing
	AddrLen    uint8  // meaningful bytes of Addr
	Addr       [8]byte
}

// DecodeSLL2 decodes the LINUX_SLL2 header at the start of data and
// returns it with the payload that follows (aliasing data); ok is false
// when data is shorter than the 20-byte header.
func DecodeSLL2(data []byte) (h SLL2Header, payload []byte, ok bool) {
	if len(data) < sll2HeaderLen {
		return h, nil, false
	}
	h.Protocol = binary.BigEndian.Uint16(data)
	h.IfIndex = binary.BigEndian.Uint32(data[4:])
	h.ARPHRD = binary.BigEndian.Uint16(data[8:])
	h.PacketType = data[10]
	h.AddrLen = data[11]
	copy(h.Addr[:], data[12:20])
	return h, data[sll2HeaderLen:], true
}

// sll2Payload is the hot-path form of DecodeSLL2: EtherType and payload.
func sll2Payload(data []byte) (etype uint16, payload []byte, ok bool) {
	if len(data) < sll2HeaderLen {
		return 0, nil, false
	}
	return binary.BigEndian.Uint16(data), data[sll2HeaderLen:], true
}
