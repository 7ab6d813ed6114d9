package capture

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/hellowatch/hellowatch/handshake"
)

// Tunnel tests wrap the IP packets of real captures (nginx, curl, Go,
// quic-go on loopback) in each encapsulation, built with gopacket's
// serializers where gopacket has one and by hand from the RFCs where it
// has not (GENEVE, CAPWAP, ERSPAN III), and check that the inner flow
// decodes, and is tracked, exactly as the bare one.

var (
	outerA4 = netip.MustParseAddr("198.18.60.1")
	outerB4 = netip.MustParseAddr("198.18.60.2")
	outerA6 = netip.MustParseAddr("2001:db8:60::1")
	outerB6 = netip.MustParseAddr("2001:db8:60::2")
	macA    = net.HardwareAddr{2, 0, 0, 0, 0x60, 1}
	macB    = net.HardwareAddr{2, 0, 0, 0, 0x60, 2}
)

// ser serializes layers (lengths fixed, checksums left zero: capture
// never checks them).
func ser(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(buf.Bytes())
}

// wrap describes one way of encapsulating an IP packet. build returns
// an Ethernet frame around ip, sent by side rev (false: the client side
// of the outer tunnel, true: the other); n numbers the packet, for
// per-packet fields (VXLAN source ports, GRE sequence numbers).
type wrap struct {
	name string
	cfg  *TunnelConfig
	// want are the tunnels expected on the client's packets.
	want  []handshake.Tunnel
	build func(t testing.TB, ip []byte, rev bool, n int) []byte
}

func etherType(ip []byte) layers.EthernetType {
	if ip[0]>>4 == 6 {
		return layers.EthernetTypeIPv6
	}
	return layers.EthernetTypeIPv4
}

func ethOf(et layers.EthernetType, rev bool) *layers.Ethernet {
	if rev {
		return &layers.Ethernet{SrcMAC: macB, DstMAC: macA, EthernetType: et}
	}
	return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: et}
}

func ip4Of(proto layers.IPProtocol, rev bool) *layers.IPv4 {
	a, b := outerA4.AsSlice(), outerB4.AsSlice()
	if rev {
		a, b = b, a
	}
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: a, DstIP: b}
}

func ip6Of(next layers.IPProtocol, rev bool) *layers.IPv6 {
	a, b := outerA6.AsSlice(), outerB6.AsSlice()
	if rev {
		a, b = b, a
	}
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next, SrcIP: a, DstIP: b}
}

// udpOf is a UDP header to port dst from a port that changes with every
// packet, as encapsulating endpoints hash the inner flow into it.
func udpOf(dst uint16, n int) *layers.UDP {
	return &layers.UDP{SrcPort: layers.UDPPort(40000 + n%1000), DstPort: layers.UDPPort(dst)}
}

// innerEth is an Ethernet frame around ip.
func innerEth(_ testing.TB, ip []byte, rev bool) []byte {
	src, dst := macA, macB
	if rev {
		src, dst = dst, src
	}
	return cat(dst, src, be16(uint16(etherType(ip))), ip)
}

func ipProtoOf(ip []byte) layers.IPProtocol {
	if ip[0]>>4 == 6 {
		return layers.IPProtocolIPv6
	}
	return layers.IPProtocolIPv4
}

func tun(typ handshake.TunnelType, id uint32, hasID bool, src, dst netip.Addr, sport, dport uint16) handshake.Tunnel {
	tn := handshake.Tunnel{Type: typ, ID: id, HasID: hasID}
	if src.IsValid() {
		tn.Src, tn.Dst = netip.AddrPortFrom(src, sport), netip.AddrPortFrom(dst, dport)
	}
	return tn
}

// geneveHeader is RFC 8926's header with optLen bytes of options (type
// 0x80 0x01, zero data), protocol proto, VNI vni.
func geneveHeader(proto uint16, vni uint32, optLen int) []byte {
	h := make([]byte, 8+optLen)
	h[0] = byte(optLen / 4)
	binary.BigEndian.PutUint16(h[2:], proto)
	binary.BigEndian.PutUint32(h[4:], vni<<8)
	for i := 8; i+4 <= len(h); i += 4 * (1 + 3) {
		binary.BigEndian.PutUint16(h[i:], 0x0108) // option class
		h[i+2] = 0x01                             // type
		h[i+3] = 3                                // 3 words of data
	}
	return h
}

// capwapHeader is RFC 5415's data header of 8 bytes, or 16 with a
// wireless specific information field (as Cisco access points send):
// native (T) with WBID 1 for 802.11, else 802.3.
func capwapHeader(native, wireless bool) []byte {
	hlen := 2
	if wireless {
		hlen = 4
	}
	h := make([]byte, hlen*4)
	h[1] = byte(hlen << 3)
	if native {
		h[2] = 1<<1 | 1 // WBID 1, T
	}
	if wireless {
		h[3] = 0x20 // W
		h[8] = 4    // wireless length, then 4 bytes of radio info, padding
	}
	return h
}

// dot11Data is an 802.11 data frame header (to the DS), QoS data when
// qos, with its frame control bytes swapped when swapped (Cisco), and
// LLC/SNAP for the IP packet ip.
func dot11Data(ip []byte, qos, swapped bool) []byte {
	fc := []byte{0x08, 0x01}
	if qos {
		fc[0] = 0x88
	}
	if swapped {
		fc[0], fc[1] = fc[1], fc[0]
	}
	h := cat(fc, []byte{0, 0}, macA, macB, macA, []byte{0x10, 0})
	if qos {
		h = append(h, 0, 0)
	}
	return cat(h, []byte{0xaa, 0xaa, 0x03, 0, 0, 0}, be16(uint16(etherType(ip))), ip)
}

func tunnelWraps() []wrap {
	ipip := func(six bool) func(t testing.TB, ip []byte, rev bool, n int) []byte {
		return func(t testing.TB, ip []byte, rev bool, n int) []byte {
			if six {
				return ser(t, ethOf(layers.EthernetTypeIPv6, rev), ip6Of(ipProtoOf(ip), rev), gopacket.Payload(ip))
			}
			return ser(t, ethOf(layers.EthernetTypeIPv4, rev), ip4Of(ipProtoOf(ip), rev), gopacket.Payload(ip))
		}
	}
	gre := func(g layers.GRE, revKey uint32, payload func(t testing.TB, ip []byte, rev bool) []byte) func(t testing.TB, ip []byte, rev bool, n int) []byte {
		return func(t testing.TB, ip []byte, rev bool, n int) []byte {
			g := g
			if g.Protocol == 0 {
				g.Protocol = etherType(ip)
			}
			if rev && revKey != 0 {
				g.Key = revKey // ikey and okey differ: still one flow
			}
			g.Seq = uint32(n)
			p := ip
			if payload != nil {
				p = payload(t, ip, rev)
			}
			return ser(t, ethOf(layers.EthernetTypeIPv4, rev), ip4Of(layers.IPProtocolGRE, rev), &g, gopacket.Payload(p))
		}
	}
	vxlan := func(port uint16, six bool) func(t testing.TB, ip []byte, rev bool, n int) []byte {
		return func(t testing.TB, ip []byte, rev bool, n int) []byte {
			u := udpOf(port, n)
			v := &layers.VXLAN{ValidIDFlag: true, VNI: 42}
			if six {
				return ser(t, ethOf(layers.EthernetTypeIPv6, rev), ip6Of(layers.IPProtocolUDP, rev), u, v, gopacket.Payload(innerEth(t, ip, rev)))
			}
			return ser(t, ethOf(layers.EthernetTypeIPv4, rev), ip4Of(layers.IPProtocolUDP, rev), u, v, gopacket.Payload(innerEth(t, ip, rev)))
		}
	}
	udpRaw := func(port uint16, hdr func(ip []byte, rev bool) []byte) func(t testing.TB, ip []byte, rev bool, n int) []byte {
		return func(t testing.TB, ip []byte, rev bool, n int) []byte {
			u := udpOf(port, n)
			if port == portCAPWAP && rev {
				// The controller answers from 5247 to the access point's port.
				u.SrcPort, u.DstPort = portCAPWAP, layers.UDPPort(41264)
			}
			return ser(t, ethOf(layers.EthernetTypeIPv4, rev), ip4Of(layers.IPProtocolUDP, rev), u, gopacket.Payload(hdr(ip, rev)))
		}
	}
	mpls := func(cw bool) func(t testing.TB, ip []byte, rev bool, n int) []byte {
		return func(t testing.TB, ip []byte, rev bool, n int) []byte {
			top, bottom := uint32(100), uint32(200)
			if rev { // labels are chosen per direction
				top, bottom = 300, 400
			}
			p := ip
			if cw {
				p = cat(make([]byte, 4), innerEth(t, ip, rev))
			}
			return ser(t, ethOf(layers.EthernetTypeMPLSUnicast, rev), &layers.MPLS{Label: top, TTL: 64},
				&layers.MPLS{Label: bottom, StackBottom: true, TTL: 64}, gopacket.Payload(p))
		}
	}
	o := func(typ handshake.TunnelType, id uint32, hasID bool) handshake.Tunnel {
		return tun(typ, id, hasID, outerA4, outerB4, 0, 0)
	}
	ou := func(typ handshake.TunnelType, id uint32, dport uint16) handshake.Tunnel {
		return tun(typ, id, true, outerA4, outerB4, 40000, dport) // the first packet's source port
	}
	none := netip.Addr{}
	return []wrap{
		{name: "ipip", want: []handshake.Tunnel{o(handshake.TunnelIPIP, 0, false)}, build: ipip(false)},
		{name: "4in6", want: []handshake.Tunnel{tun(handshake.Tunnel4in6, 0, false, outerA6, outerB6, 0, 0)}, build: ipip(true)},
		{name: "gre", want: []handshake.Tunnel{o(handshake.TunnelGRE, 0, false)}, build: gre(layers.GRE{}, 0, nil)},
		{name: "gre-csum-key-seq", want: []handshake.Tunnel{o(handshake.TunnelGRE, 1000, true)},
			build: gre(layers.GRE{ChecksumPresent: true, KeyPresent: true, SeqPresent: true, Key: 1000}, 2000, nil)},
		{name: "gretap", want: []handshake.Tunnel{o(handshake.TunnelGRE, 0, false)},
			build: gre(layers.GRE{Protocol: greTransEther}, 0, innerEth)},
		{name: "erspan1", want: []handshake.Tunnel{o(handshake.TunnelERSPAN, 0, false)},
			build: gre(layers.GRE{Protocol: greERSPAN2}, 0, innerEth)},
		{name: "erspan2", want: []handshake.Tunnel{o(handshake.TunnelERSPAN, 7, true)},
			build: gre(layers.GRE{Protocol: greERSPAN2, SeqPresent: true}, 0, func(t testing.TB, ip []byte, rev bool) []byte {
				return ser(t, &layers.ERSPANII{Version: 1, SessionID: 7, Index: 3}, gopacket.Payload(innerEth(t, ip, rev)))
			})},
		{name: "erspan3", want: []handshake.Tunnel{o(handshake.TunnelERSPAN, 9, true)},
			build: gre(layers.GRE{Protocol: greERSPAN3, SeqPresent: true}, 0, func(t testing.TB, ip []byte, rev bool) []byte {
				// version 2, session 9, timestamp, SGT, then P/FT/HW ID/D/Gra/O
				// with O set: an 8-byte platform-specific subheader follows.
				h := []byte{0x20, 0x05, 0x00, 0x09, 1, 2, 3, 4, 0, 0, 0x00, 0x01}
				return cat(h, make([]byte, 8), innerEth(t, ip, rev))
			})},
		{name: "pptp", want: []handshake.Tunnel{o(handshake.TunnelGRE, 0, false)},
			build: gre(layers.GRE{Version: 1, KeyPresent: true, Key: 0x00400001, Protocol: grePPP}, 0, func(t testing.TB, ip []byte, rev bool) []byte {
				proto := []byte{0x00, 0x21}
				if ip[0]>>4 == 6 {
					proto = []byte{0x00, 0x57}
				}
				return cat([]byte{0xff, 0x03}, proto, ip)
			})},
		{name: "vxlan", want: []handshake.Tunnel{ou(handshake.TunnelVXLAN, 42, portVXLAN)}, build: vxlan(portVXLAN, false)},
		{name: "vxlan-ipv6", want: []handshake.Tunnel{tun(handshake.TunnelVXLAN, 42, true, outerA6, outerB6, 40000, portVXLAN)}, build: vxlan(portVXLAN, true)},
		{name: "vxlan-8472", cfg: &TunnelConfig{VXLANPorts: []uint16{9999, 8472}}, want: []handshake.Tunnel{ou(handshake.TunnelVXLAN, 42, 8472)}, build: vxlan(8472, false)},
		{name: "geneve", want: []handshake.Tunnel{ou(handshake.TunnelGENEVE, 43, portGENEVE)},
			build: udpRaw(portGENEVE, func(ip []byte, rev bool) []byte {
				return cat(geneveHeader(greTransEther, 43, 0), innerEth(nil, ip, rev))
			})},
		{name: "geneve-options-ip", want: []handshake.Tunnel{ou(handshake.TunnelGENEVE, 44, portGENEVE)},
			build: udpRaw(portGENEVE, func(ip []byte, rev bool) []byte {
				return cat(geneveHeader(uint16(etherType(ip)), 44, 32), ip)
			})},
		{name: "mpls", want: []handshake.Tunnel{tun(handshake.TunnelMPLS, 200, true, none, none, 0, 0)}, build: mpls(false)},
		{name: "mpls-pw", want: []handshake.Tunnel{tun(handshake.TunnelMPLS, 200, true, none, none, 0, 0)}, build: mpls(true)},
		{name: "mpls-over-gre", want: []handshake.Tunnel{o(handshake.TunnelGRE, 0, false), tun(handshake.TunnelMPLS, 5, true, none, none, 0, 0)},
			build: gre(layers.GRE{Protocol: layers.EthernetTypeMPLSUnicast}, 0, func(t testing.TB, ip []byte, rev bool) []byte {
				return ser(t, &layers.MPLS{Label: 5, StackBottom: true, TTL: 64}, gopacket.Payload(ip))
			})},
		{name: "pppoe", want: []handshake.Tunnel{tun(handshake.TunnelPPPoE, 0x1234, true, none, none, 0, 0)},
			build: func(t testing.TB, ip []byte, rev bool, n int) []byte {
				pt := layers.PPPTypeIPv4
				if ip[0]>>4 == 6 {
					pt = layers.PPPTypeIPv6
				}
				return ser(t, ethOf(layers.EthernetTypePPPoESession, rev), &layers.PPPoE{Version: 1, Type: 1, SessionId: 0x1234},
					&layers.PPP{PPPType: pt}, gopacket.Payload(ip))
			}},
		{name: "capwap-8023", want: []handshake.Tunnel{tun(handshake.TunnelCAPWAP, 0, false, outerA4, outerB4, 40000, portCAPWAP)},
			build: udpRaw(portCAPWAP, func(ip []byte, rev bool) []byte { return cat(capwapHeader(false, false), innerEth(nil, ip, rev)) })},
		{name: "capwap-80211", want: []handshake.Tunnel{tun(handshake.TunnelCAPWAP, 0, false, outerA4, outerB4, 40000, portCAPWAP)},
			build: udpRaw(portCAPWAP, func(ip []byte, rev bool) []byte { return cat(capwapHeader(true, false), dot11Data(ip, true, false)) })},
		{name: "capwap-cisco", want: []handshake.Tunnel{tun(handshake.TunnelCAPWAP, 0, false, outerA4, outerB4, 40000, portCAPWAP)},
			build: udpRaw(portCAPWAP, func(ip []byte, rev bool) []byte { return cat(capwapHeader(true, true), dot11Data(ip, false, true)) })},
		{name: "gtp", want: []handshake.Tunnel{ou(handshake.TunnelGTP, 0x1001, portGTPU)},
			build: func(t testing.TB, ip []byte, rev bool, n int) []byte {
				g := gopacket.SerializableLayer(&layers.GTPv1U{Version: 1, ProtocolType: 1, MessageType: 255, TEID: 0x1001})
				if rev {
					// One TEID per direction (still one flow), and a PDU
					// session container extension header, by hand: gopacket
					// v1.1.19 appends extension headers after the payload.
					g = gopacket.Payload{0x34, 0xff, 0, 0, 0, 0, 0x20, 0x02, 0, 0, 0, 0x85, 1, 0x10, 0x09, 0}
				}
				return ser(t, ethOf(layers.EthernetTypeIPv4, rev), ip4Of(layers.IPProtocolUDP, rev), udpOf(portGTPU, n), g, gopacket.Payload(ip))
			}},
		{name: "vxlan-in-gre", want: []handshake.Tunnel{o(handshake.TunnelGRE, 7, true),
			tun(handshake.TunnelVXLAN, 42, true, netip.MustParseAddr("198.18.61.1"), netip.MustParseAddr("198.18.61.2"), 40000, portVXLAN)},
			build: func(t testing.TB, ip []byte, rev bool, n int) []byte {
				mid := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{198, 18, 61, 1}, DstIP: net.IP{198, 18, 61, 2}}
				if rev {
					mid.SrcIP, mid.DstIP = mid.DstIP, mid.SrcIP
				}
				return ser(t, ethOf(layers.EthernetTypeIPv4, rev), ip4Of(layers.IPProtocolGRE, rev),
					&layers.GRE{KeyPresent: true, Key: 7, Protocol: layers.EthernetTypeIPv4}, mid, udpOf(portVXLAN, n),
					&layers.VXLAN{ValidIDFlag: true, VNI: 42}, gopacket.Payload(innerEth(t, ip, rev)))
			}},
	}
}

// ipPackets returns the IP packets of a sample (Ethernet captures) with
// the side each came from (true: the side that did not send its flow's
// first packet).
func ipPackets(t testing.TB, name string) (ips [][]byte, rev []bool, pkts []Packet) {
	t.Helper()
	pkts = samplePacketsOf(t, name)
	opener := map[[2]netip.AddrPort]netip.AddrPort{} // flow → the side that sent first
	for _, p := range pkts {
		var d Decoded
		if p.Link != LinkEthernet || DecodePacket(p.Link, p.Data, &d) != SkipNone {
			t.Fatalf("%s: packet %d is not Ethernet/IP", name, p.Index)
		}
		src, dst := netip.AddrPortFrom(d.Src, d.SrcPort), netip.AddrPortFrom(d.Dst, d.DstPort)
		k := [2]netip.AddrPort{src, dst}
		if dst.Compare(src) < 0 {
			k = [2]netip.AddrPort{dst, src}
		}
		if _, ok := opener[k]; !ok {
			opener[k] = src
		}
		ips = append(ips, p.Data[14:])
		rev = append(rev, opener[k] != src)
	}
	return ips, rev, pkts
}

// TestDecodeTunnels decodes every encapsulation of a real IPv4 and IPv6
// TLS packet: the inner addresses, ports, flags and payload come out as
// from the bare packet, the payload aliases the frame, and the layers are
// named outermost first with their IDs and outer endpoints. Every strict
// prefix that cuts into the headers is SkipTruncated.
func TestDecodeTunnels(t *testing.T) {
	eth4, eth6 := samplePackets(t)
	for _, w := range tunnelWraps() {
		for _, bare := range [][]byte{eth4, eth6} {
			ip := bare[14:]
			var want Decoded
			if DecodePacket(LinkEthernet, bare, &want) != SkipNone {
				t.Fatal("sample does not decode")
			}
			name := w.name + "/inner-ipv4"
			if ip[0]>>4 == 6 {
				name = w.name + "/inner-ipv6"
			}
			t.Run(name, func(t *testing.T) {
				frame := w.build(t, ip, false, 0)
				var d Decoded
				r := DecodePacketWith(LinkEthernet, frame, &d, w.cfg)
				if r != SkipNone {
					t.Fatalf("skipped: %v", r)
				}
				checkDecoded(t, r, &d, frame)
				if !sameDecoded(&d, &want) || d.Truncated {
					t.Fatalf("inner packet:\n got %+v\nwant %+v", d, want)
				}
				got := d.Tunnels[:d.NTunnels]
				want := slices.Clone(w.want)
				for i := range want {
					if want[i].Type == handshake.TunnelIPIP && ip[0]>>4 == 6 {
						want[i].Type = handshake.Tunnel6in4
					}
					if want[i].Type == handshake.Tunnel4in6 && ip[0]>>4 == 6 {
						want[i].Type = handshake.Tunnel6in6
					}
				}
				if !slices.Equal(got, want) {
					t.Fatalf("tunnels\n got %+v\nwant %+v", got, want)
				}
				hdr := len(frame) - len(d.Payload)
				for n := 0; n < hdr; n++ {
					var dp Decoded
					r := DecodePacketWith(LinkEthernet, frame[:n], &dp, w.cfg)
					if r != SkipTruncated {
						t.Fatalf("prefix of %d bytes (headers %d): %v, want truncated", n, hdr, r)
					}
				}
				var dp Decoded
				if r := DecodePacketWith(LinkEthernet, frame[:len(frame)-1], &dp, w.cfg); r != SkipNone || !dp.Truncated {
					t.Fatalf("one byte short: %v truncated=%v", r, dp.Truncated)
				}
			})
		}
	}
}

// TestDecodeTunnelsUnknown: UDP on a tunnel port whose header is not the
// tunnel's stays a plain UDP packet; a configured VXLAN port is not
// decapsulated without its config; nested tunnels stop at MaxTunnels.
func TestDecodeTunnelsUnknown(t *testing.T) {
	eth4, _ := samplePackets(t)
	ip := eth4[14:]
	plain := func(port uint16, payload []byte) []byte {
		return ser(t, ethOf(layers.EthernetTypeIPv4, false), ip4Of(layers.IPProtocolUDP, false), udpOf(port, 0), gopacket.Payload(payload))
	}
	eth := innerEth(t, ip, false)
	for name, frame := range map[string][]byte{
		"vxlan without I flag": plain(portVXLAN, cat(make([]byte, 8), eth)),
		"geneve version 1":     plain(portGENEVE, cat([]byte{0x40, 0, 0x65, 0x58, 0, 0, 42, 0}, eth)),
		"capwap dtls":          plain(portCAPWAP, cat([]byte{0x01, 0, 0, 0}, eth)),
		"gtp version 2":        plain(portGTPU, cat([]byte{0x48, 0xff, 0, 0, 0, 0, 0, 1}, ip)),
		"8472 unconfigured":    plain(8472, cat([]byte{0x08, 0, 0, 0, 0, 0, 42, 0}, eth)),
	} {
		var d Decoded
		if r := DecodePacket(LinkEthernet, frame, &d); r != SkipNone || d.NTunnels != 0 || d.Proto != ProtoUDP || d.Src != outerA4 {
			t.Errorf("%s: %v, %d tunnels, %v:%d, want the plain UDP packet", name, r, d.NTunnels, d.Src, d.SrcPort)
		}
	}
	// IP in IP nested n times.
	nest := func(n int) []byte {
		p := ip
		for range n {
			p = ser(t, ip4Of(layers.IPProtocolIPv4, false), gopacket.Payload(p))
		}
		return ser(t, ethOf(layers.EthernetTypeIPv4, false), gopacket.Payload(p))
	}
	var d Decoded
	if r := DecodePacket(LinkEthernet, nest(MaxTunnels), &d); r != SkipNone || d.NTunnels != MaxTunnels {
		t.Errorf("%d tunnels deep: %v, %d", MaxTunnels, r, d.NTunnels)
	}
	if r := DecodePacket(LinkEthernet, nest(MaxTunnels+1), &d); r != SkipTunnelDepth {
		t.Errorf("%d tunnels deep: %v, want %v", MaxTunnels+1, r, SkipTunnelDepth)
	}
	if r := DecodePacket(LinkEthernet, nest(1000), &d); r != SkipTunnelDepth {
		t.Errorf("1000 tunnels deep: %v", r)
	}
	var labels []gopacket.SerializableLayer
	labels = append(labels, ethOf(layers.EthernetTypeMPLSUnicast, false))
	for i := range maxMPLSLabels + 1 {
		labels = append(labels, &layers.MPLS{Label: uint32(i), StackBottom: i == maxMPLSLabels})
	}
	labels = append(labels, gopacket.Payload(ip))
	if r := DecodePacket(LinkEthernet, ser(t, labels...), &d); r != SkipTunnelDepth {
		t.Errorf("%d MPLS labels: %v", maxMPLSLabels+1, r)
	}
	// The packet after a tunnelled one must not keep its tunnels.
	if r := DecodePacket(LinkEthernet, eth4, &d); r != SkipNone || d.NTunnels != 0 {
		t.Errorf("bare packet after tunnels: %v, %d tunnels", r, d.NTunnels)
	}
}

// TestDecodeTunnelAllocs: decapsulation allocates nothing.
func TestDecodeTunnelAllocs(t *testing.T) {
	eth4, _ := samplePackets(t)
	for _, w := range tunnelWraps() {
		frame := w.build(t, eth4[14:], false, 0)
		var d Decoded
		if n := testing.AllocsPerRun(100, func() { DecodePacketWith(LinkEthernet, frame, &d, w.cfg) }); n != 0 {
			t.Errorf("%s: %v allocations", w.name, n)
		}
	}
}

// trackFrames runs frames (with the capture's timestamps) through a
// Tracker and returns the records.
func trackFrames(t testing.TB, cfg Config, pkts []Packet, frames [][]byte) []*handshake.Handshake {
	t.Helper()
	var out []*handshake.Handshake
	cfg.Emit = func(h *handshake.Handshake) { out = append(out, h) }
	tr := NewTracker(cfg)
	for i := range frames {
		p := pkts[i%len(pkts)]
		p.Index = uint64(i + 1)
		p.Data = frames[i]
		p.CapLen, p.Len = len(frames[i]), len(frames[i])
		tr.Packet(&p)
	}
	tr.Flush()
	return out
}

// withoutTunnel renders a record without its tunnels, for comparison.
func withoutTunnel(t testing.TB, h *handshake.Handshake) string {
	c := *h
	c.Tunnel = nil
	return recordLine(t, &c)
}

// TestTrackTunnels: the TLS and QUIC flows of real captures, wrapped in
// every encapsulation (outer addresses swapped for the answers, a new
// VXLAN source port on every packet, GRE keys, MPLS labels and GTP TEIDs
// that differ by direction), give the records of the bare capture, plus
// their tunnels as the client's first hello packet carried them.
func TestTrackTunnels(t *testing.T) {
	for _, sample := range []string{"incident-missing-sni.pcap", "split-hello.pcap", "reordered.pcap", "ipv6.pcap", "quic-go-no-sni.pcap"} {
		ips, rev, pkts := ipPackets(t, sample)
		bare := trackFrames(t, Config{}, pkts, func() [][]byte {
			var f [][]byte
			for _, p := range pkts {
				f = append(f, p.Data)
			}
			return f
		}())
		if len(bare) == 0 {
			t.Fatalf("%s: no records", sample)
		}
		for _, w := range tunnelWraps() {
			t.Run(sample+"/"+w.name, func(t *testing.T) {
				var frames [][]byte
				for i, ip := range ips {
					frames = append(frames, w.build(t, ip, rev[i], i))
				}
				got := trackFrames(t, Config{Tunnels: derefOr(w.cfg)}, pkts, frames)
				if len(got) != len(bare) {
					t.Fatalf("%d records, want %d", len(got), len(bare))
				}
				for i := range got {
					if g, b := withoutTunnel(t, got[i]), recordLine(t, bare[i]); g != b {
						t.Fatalf("record %d differs from the bare capture's:\n got %s\nwant %s", i, g, b)
					}
					if len(got[i].Tunnel) != len(w.want) {
						t.Fatalf("record %d: tunnels %+v, want %+v", i, got[i].Tunnel, w.want)
					}
					for j, tn := range got[i].Tunnel {
						want := w.want[j]
						if tn.Type != want.Type && !(want.Type == handshake.TunnelIPIP && tn.Type == handshake.Tunnel6in4) &&
							!(want.Type == handshake.Tunnel4in6 && tn.Type == handshake.Tunnel6in6) {
							t.Errorf("record %d tunnel %d: %v, want %v", i, j, tn.Type, want.Type)
						}
						if tn.ID != want.ID || tn.HasID != want.HasID {
							t.Errorf("record %d tunnel %d: id %d/%v, want %d/%v (the client's)", i, j, tn.ID, tn.HasID, want.ID, want.HasID)
						}
						if tn.Src.Addr() != want.Src.Addr() || tn.Dst.Addr() != want.Dst.Addr() || tn.Dst.Port() != want.Dst.Port() {
							t.Errorf("record %d tunnel %d: outer %v → %v, want the client side's %v → %v", i, j, tn.Src, tn.Dst, want.Src, want.Dst)
						}
					}
				}
			})
		}
	}
}

func derefOr(c *TunnelConfig) TunnelConfig {
	if c == nil {
		return TunnelConfig{}
	}
	return *c
}

// TestTrackMirrorAndNative: a capture point that sees a flow natively and
// a mirrored copy of it in a tunnel (tc mirred, AWS Traffic Mirroring,
// ERSPAN) reports it twice, once per copy, each one whole; two VXLAN
// segments with the same inner addresses are two flows too.
func TestTrackMirrorAndNative(t *testing.T) {
	ips, rev, pkts := ipPackets(t, "split-hello.pcap")
	bare := trackFrames(t, Config{}, pkts, func() [][]byte {
		var f [][]byte
		for _, p := range pkts {
			f = append(f, p.Data)
		}
		return f
	}())
	var vx wrap
	for _, w := range tunnelWraps() {
		if w.name == "vxlan" {
			vx = w
		}
	}
	otherVNI := func(frame []byte) []byte {
		// The VNI is the 3 bytes after the 4th byte of the VXLAN header,
		// at 14 + 20 + 8 + 4.
		f := bytes.Clone(frame)
		f[14+20+8+6]++
		return f
	}
	var frames [][]byte
	var ps []Packet
	for i, ip := range ips {
		m := vx.build(t, ip, rev[i], i)
		frames = append(frames, pkts[i].Data, m, otherVNI(m))
		ps = append(ps, pkts[i], pkts[i], pkts[i])
	}
	got := trackFrames(t, Config{}, ps, frames)
	if len(got) != 3*len(bare) {
		t.Fatalf("%d records, want %d (native, mirror, another segment)", len(got), 3*len(bare))
	}
	byClient := map[netip.AddrPort]*handshake.Handshake{}
	for _, h := range bare {
		byClient[h.Client] = h
	}
	var native, mirrored, other int
	for _, h := range got {
		b := byClient[h.Client]
		if b == nil {
			t.Fatalf("record of %v: no such flow in the capture", h.Client)
		}
		switch {
		case len(h.Tunnel) == 0:
			native++
		case h.Tunnel[0].ID == 42:
			mirrored++
		default:
			other++
		}
		if h.Outcome != b.Outcome || h.ServerName != b.ServerName || h.HelloSegments != b.HelloSegments || h.JA4 != b.JA4 {
			t.Errorf("record %s: want the bare record's outcome %v, SNI %q, %d hello segments, JA4 %s", recordLine(t, h), b.Outcome, b.ServerName, b.HelloSegments, b.JA4)
		}
	}
	if native != len(bare) || mirrored != len(bare) || other != len(bare) {
		t.Errorf("native %d, mirrored %d, other segment %d; want %d each", native, mirrored, other, len(bare))
	}
}

// TestTunnelSamples checks the tunnel captures made with real kernels
// (samples/make-tunnel-samples.sh, samples/MANIFEST-tunnels.tsv): every
// flow the manifest names is reported with its tunnel. A sample not yet
// in samples/ is skipped by name.
func TestTunnelSamples(t *testing.T) {
	manifest := filepath.Join("..", "samples", "MANIFEST-tunnels.tsv")
	b, err := os.ReadFile(manifest)
	if err != nil {
		t.Skipf("skipped: %v", err)
	}
	type flow struct{ client, tunnel, vxlanPort string }
	want := map[string][]flow{}
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Split(line, "\t")
		if i == 0 || len(f) < 7 {
			continue
		}
		client := strings.Fields(f[6])[0]
		port := ""
		if strings.Contains(f[5], "dstport=8472") {
			port = "8472"
		}
		want[f[0]] = append(want[f[0]], flow{client: client, tunnel: f[4], vxlanPort: port})
	}
	for file, flows := range want {
		t.Run(file, func(t *testing.T) {
			path := filepath.Join("..", "samples", file)
			if _, err := os.Stat(path); err != nil {
				t.Skipf("skipped: %v", err)
			}
			cfg := Config{}
			if flows[0].vxlanPort != "" {
				cfg.Tunnels.VXLANPorts = []uint16{8472}
			}
			var recs []*handshake.Handshake
			cfg.Emit = func(h *handshake.Handshake) { recs = append(recs, h) }
			tr := NewTracker(cfg)
			eachPacket(t, []string{path}, tr.Packet)
			tr.Flush()
			for _, fl := range flows {
				var found []*handshake.Handshake
				for _, h := range recs {
					if h.Client.String() == fl.client {
						found = append(found, h)
					}
				}
				if len(found) == 0 {
					t.Errorf("%s (%s): no record", fl.client, fl.tunnel)
					continue
				}
				tunnelled := strings.Contains(fl.tunnel, "none") == false
				for _, h := range found {
					if tunnelled && len(h.Tunnel) == 0 {
						t.Errorf("%s: record without its tunnel (%s)", fl.client, fl.tunnel)
					}
				}
				if strings.HasPrefix(fl.tunnel, "none + ") && len(found) != 2 {
					t.Errorf("%s: %d records, want the native one and the mirrored one", fl.client, len(found))
				}
			}
		})
	}
}
