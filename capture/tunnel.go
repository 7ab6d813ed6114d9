package capture

// Decapsulation: what node and mirror captures carry. A Kubernetes node
// sees its pods' traffic in VXLAN or GENEVE (Flannel, Cilium) or IP in IP
// (Calico); cloud traffic mirroring delivers copies in VXLAN (AWS VPC
// Traffic Mirroring, Azure vTAP), GENEVE (AWS Gateway Load Balancer) or
// ERSPAN (switches); 6in4/4in6, SRv6, GRE, MPLS, PPPoE, CAPWAP (wireless
// controllers) and GTP-U (mobile cores) carry the rest. Each decoder reads
// its header in place (no copy) and hands the payload back to the link or
// IP decoder; the layer is noted in Decoded.Tunnels. Nesting is bounded by
// MaxTunnels, so a packet that encapsulates itself over and over costs at
// most that many headers.

import (
	"encoding/binary"
	"net/netip"

	"github.com/hellowatch/hellowatch/handshake"
)

// MaxTunnels is how deep encapsulations are followed. A packet nested
// deeper is skipped (SkipTunnelDepth): real ones have one layer, two in
// odd cases (VXLAN over GRE); more is a crafted packet.
const MaxTunnels = 4

// TunnelConfig says which UDP ports carry tunnels besides the IANA ones
// (VXLAN 4789, GENEVE 6081, CAPWAP data 5247, GTP-U 2152). A nil
// *TunnelConfig means those only.
type TunnelConfig struct {
	// VXLANPorts are more UDP destination ports whose packets are taken
	// for VXLAN, e.g. 8472 (Linux's default before 4789 was assigned,
	// still Flannel's).
	VXLANPorts []uint16
}

// Tunnel ports and protocol numbers.
const (
	portVXLAN  = 4789
	portGENEVE = 6081
	portCAPWAP = 5247 // CAPWAP data channel (5246, control, is DTLS)
	portGTPU   = 2152

	protoIPv4 = 4  // IPv4 in IP
	protoIPv6 = 41 // IPv6 in IP
	protoGRE  = 47

	greTransEther = 0x6558 // transparent Ethernet bridging
	greERSPAN2    = 0x88BE // ERSPAN type I (no sequence number) and II
	greERSPAN3    = 0x22EB
	grePPP        = 0x880B // PPTP

	maxMPLSLabels = 8
	maxGTPExt     = 8
)

// udpTunnel names the tunnel that a UDP packet between these ports
// carries, or TunnelUnknown. Only the destination port counts, as the
// encapsulating endpoints use it in both directions (the source port is
// a hash of the inner flow), except for CAPWAP, where the controller
// answers from 5247 to the access point's port.
func (tc *TunnelConfig) udpTunnel(src, dst uint16) handshake.TunnelType {
	switch dst {
	case portVXLAN:
		return handshake.TunnelVXLAN
	case portGENEVE:
		return handshake.TunnelGENEVE
	case portCAPWAP:
		return handshake.TunnelCAPWAP
	case portGTPU:
		return handshake.TunnelGTP
	}
	if src == portCAPWAP {
		return handshake.TunnelCAPWAP
	}
	if tc != nil {
		for _, p := range tc.VXLANPorts {
			if p == dst {
				return handshake.TunnelVXLAN
			}
		}
	}
	return handshake.TunnelUnknown
}

// pushTunnel notes a layer in d, with the current (outer) addresses when
// addrs and their ports when the layer rides on UDP. It reports false
// when the packet is already MaxTunnels deep.
func pushTunnel(d *Decoded, typ handshake.TunnelType, id uint32, hasID, addrs bool) bool {
	if d.NTunnels >= MaxTunnels {
		return false
	}
	l := &d.Tunnels[d.NTunnels]
	d.NTunnels++
	l.Type, l.ID, l.HasID = typ, id, hasID
	if !addrs {
		l.Src, l.Dst = netip.AddrPort{}, netip.AddrPort{}
		return true
	}
	var sp, dp uint16
	if d.Proto == ProtoUDP {
		sp, dp = d.SrcPort, d.DstPort
	}
	l.Src, l.Dst = netip.AddrPortFrom(d.Src, sp), netip.AddrPortFrom(d.Dst, dp)
	return true
}

// decodeIPTunnel follows IP protocols 4 (IPv4), 41 (IPv6) and 47 (GRE)
// inside the IP packet whose addresses d holds.
func decodeIPTunnel(proto uint8, data []byte, truncated bool, d *Decoded, tc *TunnelConfig) SkipReason {
	d.Proto = proto
	if proto == protoGRE {
		return decodeGRE(data, truncated, d, tc)
	}
	var typ handshake.TunnelType
	switch {
	case d.Src.Is4() && proto == protoIPv4:
		typ = handshake.TunnelIPIP
	case d.Src.Is4():
		typ = handshake.Tunnel6in4
	case proto == protoIPv4:
		typ = handshake.Tunnel4in6
	default:
		typ = handshake.Tunnel6in6
	}
	if !pushTunnel(d, typ, 0, false, true) {
		return SkipTunnelDepth
	}
	if proto == protoIPv4 {
		return decodeIPv4(data, d, tc)
	}
	return decodeIPv6(data, d, tc)
}

// decodeGRE reads a GRE header (RFC 2784, with RFC 2890's key and
// sequence number; version 1 is PPTP's enhanced GRE, RFC 2637) and what
// it carries: IP, MPLS, Ethernet (0x6558, as Linux gretap), ERSPAN or PPP.
func decodeGRE(data []byte, truncated bool, d *Decoded, tc *TunnelConfig) SkipReason {
	if len(data) < 4 {
		return shortOf(truncated)
	}
	flags := binary.BigEndian.Uint16(data)
	proto := binary.BigEndian.Uint16(data[2:])
	const (
		flagC, flagR, flagK, flagS, flagA = 0x8000, 0x4000, 0x2000, 0x1000, 0x0080
	)
	if flags&flagR != 0 {
		// RFC 1701 source routing, long obsolete: not followed.
		return SkipNotIP
	}
	n := 4
	if flags&flagC != 0 {
		n += 4 // checksum and reserved
	}
	hasKey := flags&flagK != 0
	keyOff := n
	if hasKey {
		n += 4
	}
	if flags&flagS != 0 {
		n += 4
	}
	switch flags & 7 {
	case 0:
	case 1:
		// Enhanced GRE: the key holds the payload length and call ID, not
		// a tunnel key; an acknowledgement number may follow.
		if flags&flagA != 0 {
			n += 4
		}
		hasKey = false
	default:
		return SkipNotIP
	}
	if len(data) < n {
		return shortOf(truncated)
	}
	var key uint32
	if hasKey {
		key = binary.BigEndian.Uint32(data[keyOff:])
	}
	payload := data[n:]
	switch proto {
	case greERSPAN2, greERSPAN3:
		return decodeERSPAN(proto, flags&flagS != 0, payload, d, tc)
	}
	if !pushTunnel(d, handshake.TunnelGRE, key, hasKey, true) {
		return SkipTunnelDepth
	}
	switch proto {
	case greTransEther:
		return decodeEthernetFrame(payload, d, tc)
	case grePPP:
		return decodePPP(payload, d, tc)
	}
	return decodeEther(proto, payload, d, tc)
}

// decodeERSPAN reads an ERSPAN header inside GRE: type I has none (GRE
// without a sequence number), type II 8 bytes (version 1), type III 12,
// plus 8 when its platform-specific subheader is present. The mirrored
// frame follows: Ethernet, or for type III possibly bare IP.
func decodeERSPAN(proto uint16, seq bool, data []byte, d *Decoded, tc *TunnelConfig) SkipReason {
	if proto == greERSPAN2 && !seq {
		if !pushTunnel(d, handshake.TunnelERSPAN, 0, false, true) {
			return SkipTunnelDepth
		}
		return decodeEthernetFrame(data, d, tc)
	}
	if len(data) < 8 {
		return SkipTruncated
	}
	ver := data[0] >> 4
	session := uint32(binary.BigEndian.Uint16(data[2:]) & 0x03ff)
	ethernet := true
	switch {
	case proto == greERSPAN2 && ver == 1:
		data = data[8:]
	case proto == greERSPAN3 && ver == 2:
		if len(data) < 12 {
			return SkipTruncated
		}
		ft := (data[10] >> 2) & 0x1f // frame type: 0 Ethernet, 2 IP
		sub := data[11]&1 != 0
		data = data[12:]
		if sub {
			if len(data) < 8 {
				return SkipTruncated
			}
			data = data[8:]
		}
		switch ft {
		case 0:
		case 2:
			ethernet = false
		default:
			return SkipNotIP
		}
	default:
		return SkipNotIP
	}
	if !pushTunnel(d, handshake.TunnelERSPAN, session, true, true) {
		return SkipTunnelDepth
	}
	if ethernet {
		return decodeEthernetFrame(data, d, tc)
	}
	return decodeIP(data, d, tc)
}

// decodeEthernetFrame decodes an inner Ethernet frame (no FCS).
func decodeEthernetFrame(data []byte, d *Decoded, tc *TunnelConfig) SkipReason {
	if len(data) < 14 {
		return SkipTruncated
	}
	return decodeEther(binary.BigEndian.Uint16(data[12:]), data[14:], d, tc)
}

// decodeMPLS reads an MPLS label stack (RFC 3032) to its bottom and
// guesses the payload by its first nibble, as MPLS itself does not say:
// 4 is IPv4, 6 IPv6, 0 a pseudowire control word followed by Ethernet
// (RFC 4448). The record keeps the bottom label, the one that names the
// service (a VPN); the labels above it change hop by hop.
func decodeMPLS(data []byte, d *Decoded, tc *TunnelConfig) SkipReason {
	var label uint32
	for i := 0; ; i++ {
		if i >= maxMPLSLabels {
			return SkipTunnelDepth
		}
		if len(data) < 4 {
			return SkipTruncated
		}
		v := binary.BigEndian.Uint32(data)
		data = data[4:]
		label = v >> 12
		if v&0x100 != 0 { // bottom of stack
			break
		}
	}
	if !pushTunnel(d, handshake.TunnelMPLS, label, true, false) {
		return SkipTunnelDepth
	}
	if len(data) < 1 {
		return SkipTruncated
	}
	switch data[0] >> 4 {
	case 4:
		return decodeIPv4(data, d, tc)
	case 6:
		return decodeIPv6(data, d, tc)
	case 0:
		if len(data) < 4 {
			return SkipTruncated
		}
		return decodeEthernetFrame(data[4:], d, tc)
	}
	return SkipNotIP
}

// decodeUDPTunnel decodes the payload of a UDP packet on a tunnel port;
// d holds the outer UDP packet. A payload whose header is not the
// tunnel's (a VXLAN header without its I flag, a GENEVE or GTP version
// other than the one defined, a CAPWAP preamble announcing DTLS) is left
// as the plain UDP packet it is.
func decodeUDPTunnel(typ handshake.TunnelType, d *Decoded, tc *TunnelConfig) SkipReason {
	p := d.Payload
	if len(p) < 8 {
		// Shorter than any of these headers: cut by the snaplen, or
		// another protocol's datagram.
		if d.Truncated {
			return SkipTruncated
		}
		return SkipNone
	}
	switch typ {
	case handshake.TunnelVXLAN:
		// RFC 7348: flags (I = 0x08 says the VNI is valid), 3 reserved
		// bytes, the 24-bit VNI, 1 reserved byte; then Ethernet.
		if p[0]&0x08 == 0 {
			return SkipNone
		}
		if !pushTunnel(d, typ, binary.BigEndian.Uint32(p[4:])>>8, true, true) {
			return SkipTunnelDepth
		}
		return decodeEthernetFrame(p[8:], d, tc)
	case handshake.TunnelGENEVE:
		// RFC 8926: version (2 bits, 0), options length (6 bits, in 4-byte
		// words), flags, protocol type, 24-bit VNI, reserved; options.
		if p[0]>>6 != 0 {
			return SkipNone
		}
		n := 8 + int(p[0]&0x3f)*4
		if len(p) < n {
			return SkipTruncated
		}
		if !pushTunnel(d, typ, binary.BigEndian.Uint32(p[4:])>>8, true, true) {
			return SkipTunnelDepth
		}
		if proto := binary.BigEndian.Uint16(p[2:]); proto != greTransEther {
			return decodeEther(proto, p[n:], d, tc)
		}
		return decodeEthernetFrame(p[n:], d, tc)
	case handshake.TunnelCAPWAP:
		return decodeCAPWAP(p, d, tc)
	case handshake.TunnelGTP:
		return decodeGTPU(p, d, tc)
	}
	return SkipNone
}

// decodeCAPWAP reads a CAPWAP data packet (at least 8 bytes) (RFC 5415 §4.3): a preamble
// (version 0, type 0: a clear header follows; type 1 is DTLS), then a
// header of HLEN 4-byte words, then the frame: 802.3 (T = 0) or, with
// T = 1 and the IEEE 802.11 binding (WBID 1), an 802.11 frame (RFC 5416).
func decodeCAPWAP(p []byte, d *Decoded, tc *TunnelConfig) SkipReason {
	if p[0] != 0 {
		return SkipNone
	}
	hlen := int(p[1]>>3) * 4
	wbid := (p[2] >> 1) & 0x1f
	native := p[2]&1 != 0
	const flagF, flagK = 0x80, 0x08
	if hlen < 8 {
		return SkipMalformed
	}
	if len(p) < hlen {
		return SkipTruncated
	}
	if !pushTunnel(d, handshake.TunnelCAPWAP, 0, false, true) {
		return SkipTunnelDepth
	}
	switch {
	case p[3]&flagF != 0:
		return SkipFragment
	case p[3]&flagK != 0:
		return SkipNotIP // a keep-alive: no frame
	case !native:
		return decodeEthernetFrame(p[hlen:], d, tc)
	case wbid == 1:
		return decode80211(p[hlen:], d, tc)
	}
	return SkipNotIP
}

// decode80211 reads an 802.11 data frame and its LLC/SNAP header to the
// EtherType. Management, control, null and protected (encrypted) frames
// carry no IP that can be read. Cisco access points send the frame
// control field's two bytes swapped (Wireshark's "swap frame control"):
// a frame that is data only when read swapped is taken so, the LLC/SNAP
// header that must follow guarding against a misread.
func decode80211(p []byte, d *Decoded, tc *TunnelConfig) SkipReason {
	if len(p) < 24 {
		return SkipTruncated
	}
	fc, flags := p[0], p[1]
	if fc&0x0c != 0x08 { // type 2: data
		fc, flags = flags, fc
		if fc&0x0c != 0x08 {
			return SkipNotIP
		}
	}
	subtype := fc >> 4
	if subtype&0x04 != 0 || flags&0x40 != 0 { // no data; protected
		return SkipNotIP
	}
	n := 24
	if flags&0x03 == 0x03 { // to and from DS: a fourth address
		n += 6
	}
	if subtype&0x08 != 0 { // QoS data: QoS control, and HT control with Order
		n += 2
		if flags&0x80 != 0 {
			n += 4
		}
	}
	if len(p) < n+8 {
		return SkipTruncated
	}
	llc := p[n:]
	if llc[0] != 0xaa || llc[1] != 0xaa || llc[2] != 0x03 {
		return SkipNotIP
	}
	return decodeEther(binary.BigEndian.Uint16(llc[6:]), llc[8:], d, tc)
}

// decodeGTPU reads a GTP-U header (p has at least 8 bytes) (3GPP TS 29.281 §5): version 1, PT 1,
// message type 255 (G-PDU) carries a user's IP packet; the optional
// sequence number, N-PDU number and extension headers are skipped.
func decodeGTPU(p []byte, d *Decoded, tc *TunnelConfig) SkipReason {
	if p[0]>>5 != 1 || p[0]&0x10 == 0 {
		return SkipNone
	}
	if p[1] != 0xff {
		return SkipNotIP // echo, error indication, end marker
	}
	teid := binary.BigEndian.Uint32(p[4:])
	n := 8
	if p[0]&0x07 != 0 {
		if len(p) < 12 {
			return SkipTruncated
		}
		n = 12
		for next, i := p[11], 0; p[0]&0x04 != 0 && next != 0; i++ {
			if i >= maxGTPExt {
				return SkipMalformed
			}
			if len(p) < n+1 {
				return SkipTruncated
			}
			l := int(p[n]) * 4
			if l == 0 {
				return SkipMalformed
			}
			if len(p) < n+l {
				return SkipTruncated
			}
			next = p[n+l-1]
			n += l
		}
	}
	if !pushTunnel(d, handshake.TunnelGTP, teid, true, true) {
		return SkipTunnelDepth
	}
	return decodeIP(p[n:], d, tc)
}

// tunnelKey tells apart flows with the same inner addresses and ports
// that came in different tunnels (a mirror copy beside the native flow,
// two VXLAN segments with overlapping addresses): 0 for a packet that
// was not tunnelled. It must be the same for both directions of a flow,
// so it takes only what both directions share: each layer's type and the
// IDs that name a segment or session (VXLAN and GENEVE VNIs, ERSPAN and
// PPPoE sessions). Outer addresses are left out (SRv6 and asymmetric
// routes give each direction its own), as are GRE keys (ikey and okey
// may differ), MPLS labels (chosen per hop and direction) and GTP TEIDs
// (one per direction).
func tunnelKey(d *Decoded) uint16 {
	h := uint64(0xcbf29ce484222325)
	for i := range d.Tunnels[:d.NTunnels] {
		l := &d.Tunnels[i]
		v := uint64(l.Type)
		switch l.Type {
		case handshake.TunnelVXLAN, handshake.TunnelGENEVE, handshake.TunnelERSPAN, handshake.TunnelPPPoE:
			if l.HasID {
				v |= 1<<8 | uint64(l.ID)<<16
			}
		}
		h = (h ^ v) * 0x100000001b3
		h ^= h >> 29
	}
	return uint16(h^h>>32^h>>16^h>>48) | 1
}
