package capture

import (
	"encoding/binary"
	"net/netip"

	"github.com/hellowatch/hellowatch/handshake"
)

// TCP flag bits as they appear in the TCP header's flags byte.
const (
	TCPFlagFIN uint8 = 0x01
	TCPFlagSYN uint8 = 0x02
	TCPFlagRST uint8 = 0x04
	TCPFlagPSH uint8 = 0x08
	TCPFlagACK uint8 = 0x10
	TCPFlagURG uint8 = 0x20
	TCPFlagECE uint8 = 0x40
	TCPFlagCWR uint8 = 0x80
)

// IP protocol numbers in Decoded.Proto.
const (
	ProtoTCP uint8 = 6
	ProtoUDP uint8 = 17
)

// Decoded is one packet decoded down to the transport layer. DecodePacket
// fills it without allocating; Payload aliases the packet's bytes.
type Decoded struct {
	Src, Dst         netip.Addr // IP addresses (IPv4 or IPv6, no zone)
	SrcPort, DstPort uint16
	Proto            uint8 // ProtoTCP or ProtoUDP
	TTL              uint8 // IPv4 TTL or IPv6 hop limit of the innermost IP header

	// TCP only (zero for UDP).
	Seq, Ack uint32
	Flags    uint8 // TCPFlagFIN, TCPFlagSYN, ... as on the wire
	Window   uint16

	// Payload is the transport payload, trimmed to the IP length (so that
	// Ethernet padding is dropped). It aliases the packet's data.
	Payload []byte
	// Truncated reports that the payload was cut by the snaplen: the IP
	// header claims more bytes than were captured.
	Truncated bool

	// Tunnels[:NTunnels] are the encapsulations the packet came in,
	// outermost first (capture/tunnel.go); the addresses and ports above
	// are the innermost ones. NTunnels is 0 for a packet that was not
	// tunnelled. (NTunnels comes first: it shares a cache line with the
	// fields every packet sets.)
	NTunnels uint8
	Tunnels  [MaxTunnels]handshake.Tunnel
}

// SkipReason says why DecodePacket did not decode a packet. The String
// words are stable, for metric labels.
type SkipReason uint8

// Skip reasons. IP fragments are not reassembled: every fragment (except an
// IPv6 atomic fragment, which is a whole packet) is skipped with SkipFragment.
const (
	SkipNone        SkipReason = iota // decoded
	SkipUnknownLink                   // link type not supported
	SkipNotIP                         // the link layer carries something other than IPv4/IPv6
	SkipFragment                      // an IP fragment
	SkipNotTCPUDP                     // IP packet of another protocol (ICMP, ESP, ...)
	SkipTruncated                     // headers cut by the snaplen
	SkipMalformed                     // headers that contradict themselves
	SkipTunnelDepth                   // tunnels nested deeper than MaxTunnels
	numSkipReasons
)

var skipNames = [...]string{
	SkipNone:        "none",
	SkipUnknownLink: "unknown_link",
	SkipNotIP:       "not_ip",
	SkipFragment:    "fragment",
	SkipNotTCPUDP:   "not_tcp_udp",
	SkipTruncated:   "truncated",
	SkipMalformed:   "malformed",
	SkipTunnelDepth: "tunnel_depth",
}

// String returns the reason's stable snake_case word.
func (s SkipReason) String() string {
	if s < numSkipReasons {
		return skipNames[s]
	}
	return "unknown"
}

// SkipReasons returns every reason a packet can be skipped for (all but
// SkipNone), e.g. to initialise metric labels.
func SkipReasons() []SkipReason {
	r := make([]SkipReason, 0, numSkipReasons-1)
	for s := SkipNone + 1; s < numSkipReasons; s++ {
		r = append(r, s)
	}
	return r
}

// EtherTypes the decoder follows.
const (
	etherTypeIPv4    = 0x0800
	etherTypeIPv6    = 0x86DD
	etherTypeVLAN    = 0x8100 // 802.1Q
	etherTypeQinQ    = 0x88A8 // 802.1ad
	etherTypeQinQOld = 0x9100 // pre-standard QinQ
	etherTypePPPoE   = 0x8864 // PPPoE session stage
	etherTypeMPLS    = 0x8847 // MPLS unicast
	etherTypeMPLSMC  = 0x8848 // MPLS multicast
	maxVLANTags      = 8
	maxIPv6ExtHdrs   = 8
)

// DecodePacket decodes link → IPv4/IPv6 → TCP/UDP into d and returns
// SkipNone on success, following tunnels on their IANA ports (see
// DecodePacketWith). d is overwritten; its Payload aliases data. After
// any other result, d's contents are unspecified.
// Checksums are never checked: loopback and offloading hosts leave them
// unfilled.
func DecodePacket(link LinkType, data []byte, d *Decoded) SkipReason {
	return DecodePacketWith(link, data, d, nil)
}

// DecodePacketWith is DecodePacket with tc's tunnel ports (nil: the IANA
// ports only). Tunnels are followed to the innermost TCP or UDP header:
// IP in IP, GRE, ERSPAN, VXLAN, GENEVE, MPLS, PPPoE, CAPWAP and GTP-U, at
// most MaxTunnels deep (a packet nested deeper is skipped with
// SkipTunnelDepth).
func DecodePacketWith(link LinkType, data []byte, d *Decoded, tc *TunnelConfig) SkipReason {
	d.NTunnels = 0
	var etype uint16
	switch link {
	case LinkEthernet:
		if len(data) < 14 {
			return SkipTruncated
		}
		etype = binary.BigEndian.Uint16(data[12:])
		data = data[14:]
	case LinkLinuxSLL:
		if len(data) < 16 {
			return SkipTruncated
		}
		etype = binary.BigEndian.Uint16(data[14:])
		data = data[16:]
	case LinkLinuxSLL2:
		var ok bool
		etype, data, ok = sll2Payload(data)
		if !ok {
			return SkipTruncated
		}
	case LinkNull, LinkLoop:
		if len(data) < 4 {
			return SkipTruncated
		}
		var fam uint32
		if link == LinkLoop {
			fam = binary.BigEndian.Uint32(data)
		} else {
			// Written in the capturing host's byte order: accept either.
			fam = binary.LittleEndian.Uint32(data)
			if fam > 0xffff {
				fam = binary.BigEndian.Uint32(data)
			}
		}
		data = data[4:]
		switch fam {
		case 2:
			return decodeIPv4(data, d, tc)
		case 24, 28, 30: // AF_INET6 on NetBSD/OpenBSD, FreeBSD, macOS
			return decodeIPv6(data, d, tc)
		}
		return SkipNotIP
	case LinkPPP, LinkPPPHDLC:
		return decodePPP(data, d, tc)
	case LinkRaw, LinkRawDLT12, LinkRawDLT14:
		return decodeIP(data, d, tc)
	case LinkIPv4:
		return decodeIPv4(data, d, tc)
	case LinkIPv6:
		return decodeIPv6(data, d, tc)
	default:
		return SkipUnknownLink
	}
	return decodeEther(etype, data, d, tc)
}

// decodeEther follows VLAN tags, MPLS and PPPoE from an EtherType to IP.
func decodeEther(etype uint16, data []byte, d *Decoded, tc *TunnelConfig) SkipReason {
	for i := 0; ; i++ {
		switch etype {
		case etherTypeIPv4:
			return decodeIPv4(data, d, tc)
		case etherTypeIPv6:
			return decodeIPv6(data, d, tc)
		case etherTypeVLAN, etherTypeQinQ, etherTypeQinQOld:
			if i >= maxVLANTags {
				return SkipMalformed
			}
			if len(data) < 4 {
				return SkipTruncated
			}
			etype = binary.BigEndian.Uint16(data[2:])
			data = data[4:]
		case etherTypeMPLS, etherTypeMPLSMC:
			return decodeMPLS(data, d, tc)
		case etherTypePPPoE:
			// 6-byte PPPoE header (version/type, code, session, length),
			// then the PPP protocol.
			if len(data) < 6 {
				return SkipTruncated
			}
			if !pushTunnel(d, handshake.TunnelPPPoE, uint32(binary.BigEndian.Uint16(data[2:])), true, false) {
				return SkipTunnelDepth
			}
			return decodePPP(data[6:], d, tc)
		default:
			return SkipNotIP
		}
	}
}

// decodePPP decodes a PPP frame (RFC 1661): the HDLC address and control
// bytes (0xff 0x03) when present, then a protocol field of two bytes, or
// one when compressed (an odd first byte), then IP.
func decodePPP(data []byte, d *Decoded, tc *TunnelConfig) SkipReason {
	if len(data) >= 2 && data[0] == 0xff && data[1] == 0x03 {
		data = data[2:]
	}
	if len(data) < 1 || len(data) < 2 && data[0] == 0xff {
		return SkipTruncated
	}
	proto := uint16(data[0])
	if proto&1 == 1 {
		data = data[1:]
	} else {
		if len(data) < 2 {
			return SkipTruncated
		}
		proto = binary.BigEndian.Uint16(data)
		data = data[2:]
	}
	switch proto {
	case 0x0021:
		return decodeIPv4(data, d, tc)
	case 0x0057:
		return decodeIPv6(data, d, tc)
	}
	return SkipNotIP
}

func decodeIP(data []byte, d *Decoded, tc *TunnelConfig) SkipReason {
	if len(data) < 1 {
		return SkipTruncated
	}
	switch data[0] >> 4 {
	case 4:
		return decodeIPv4(data, d, tc)
	case 6:
		return decodeIPv6(data, d, tc)
	}
	return SkipNotIP
}

func decodeIPv4(data []byte, d *Decoded, tc *TunnelConfig) SkipReason {
	if len(data) < 20 {
		if len(data) > 0 && data[0]>>4 != 4 {
			return SkipMalformed
		}
		return SkipTruncated
	}
	if data[0]>>4 != 4 {
		return SkipMalformed
	}
	ihl := int(data[0]&0x0f) * 4
	if ihl < 20 {
		return SkipMalformed
	}
	total := int(binary.BigEndian.Uint16(data[2:]))
	if total == 0 {
		// Linux captures of TSO/GSO super-packets on the sending host carry
		// a total length of 0: take what was captured.
		total = len(data)
	}
	if total < ihl {
		return SkipMalformed
	}
	truncated := total > len(data)
	if !truncated {
		data = data[:total] // drop link-layer padding
	}
	if len(data) < ihl {
		return SkipTruncated
	}
	if binary.BigEndian.Uint16(data[6:])&0x3fff != 0 { // MF flag or offset
		return SkipFragment
	}
	d.Src = netip.AddrFrom4([4]byte(data[12:16]))
	d.Dst = netip.AddrFrom4([4]byte(data[16:20]))
	d.TTL = data[8]
	return decodeTransport(data[9], data[ihl:], truncated, d, tc)
}

func decodeIPv6(data []byte, d *Decoded, tc *TunnelConfig) SkipReason {
	if len(data) < 40 {
		if len(data) > 0 && data[0]>>4 != 6 {
			return SkipMalformed
		}
		return SkipTruncated
	}
	if data[0]>>4 != 6 {
		return SkipMalformed
	}
	plen := int(binary.BigEndian.Uint16(data[4:]))
	next := data[6]
	d.Src = netip.AddrFrom16([16]byte(data[8:24]))
	d.Dst = netip.AddrFrom16([16]byte(data[24:40]))
	d.TTL = data[7]
	data = data[40:]
	truncated := false
	if plen == 0 {
		// Jumbogram or a TSO super-packet: take what was captured.
		plen = len(data)
	}
	if plen > len(data) {
		truncated = true
	} else {
		data = data[:plen]
	}
	for i := 0; ; i++ {
		switch next {
		case ProtoTCP, ProtoUDP:
			return decodeTransport(next, data, truncated, d, tc)
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if i >= maxIPv6ExtHdrs {
				return SkipMalformed
			}
			if len(data) < 2 {
				return shortOf(truncated)
			}
			n := (int(data[1]) + 1) * 8
			if len(data) < n {
				return shortOf(truncated)
			}
			next, data = data[0], data[n:]
		case 51: // authentication header: length in 4-byte units, minus 2
			if i >= maxIPv6ExtHdrs {
				return SkipMalformed
			}
			if len(data) < 2 {
				return shortOf(truncated)
			}
			n := (int(data[1]) + 2) * 4
			if len(data) < n {
				return shortOf(truncated)
			}
			next, data = data[0], data[n:]
		case 44: // fragment
			if i >= maxIPv6ExtHdrs {
				return SkipMalformed
			}
			if len(data) < 8 {
				return shortOf(truncated)
			}
			if binary.BigEndian.Uint16(data[2:])&0xfff9 != 0 {
				return SkipFragment // not an atomic fragment (RFC 6946)
			}
			next, data = data[0], data[8:]
		case protoIPv4, protoIPv6, protoGRE:
			return decodeIPTunnel(next, data, truncated, d, tc)
		default:
			return SkipNotTCPUDP
		}
	}
}

// shortOf classifies headers that do not fit: cut by the snaplen, or
// contradicting the IP length.
func shortOf(truncated bool) SkipReason {
	if truncated {
		return SkipTruncated
	}
	return SkipMalformed
}

func decodeTransport(proto uint8, data []byte, truncated bool, d *Decoded, tc *TunnelConfig) SkipReason {
	switch proto {
	case ProtoTCP:
		if len(data) < 20 {
			return shortOf(truncated)
		}
		hl := int(data[12]>>4) * 4
		if hl < 20 {
			return SkipMalformed
		}
		if len(data) < hl {
			return shortOf(truncated)
		}
		d.SrcPort = binary.BigEndian.Uint16(data)
		d.DstPort = binary.BigEndian.Uint16(data[2:])
		d.Seq = binary.BigEndian.Uint32(data[4:])
		d.Ack = binary.BigEndian.Uint32(data[8:])
		d.Flags = data[13]
		d.Window = binary.BigEndian.Uint16(data[14:])
		d.Proto = ProtoTCP
		d.Payload = data[hl:]
		d.Truncated = truncated
		return SkipNone
	case ProtoUDP:
		if len(data) < 8 {
			return shortOf(truncated)
		}
		ulen := int(binary.BigEndian.Uint16(data[4:]))
		d.SrcPort = binary.BigEndian.Uint16(data)
		d.DstPort = binary.BigEndian.Uint16(data[2:])
		d.Seq, d.Ack, d.Flags, d.Window = 0, 0, 0, 0
		d.Proto = ProtoUDP
		if ulen >= 8 && ulen <= len(data) {
			data = data[:ulen]
		}
		d.Payload = data[8:]
		d.Truncated = truncated
		if typ := tc.udpTunnel(d.SrcPort, d.DstPort); typ != handshake.TunnelUnknown {
			return decodeUDPTunnel(typ, d, tc)
		}
		return SkipNone
	case protoIPv4, protoIPv6, protoGRE:
		return decodeIPTunnel(proto, data, truncated, d, tc)
	}
	return SkipNotTCPUDP
}
