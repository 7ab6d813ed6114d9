package capture

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// refDecode decodes with gopacket as the reference; ok is false when
// gopacket finds no TCP/UDP layer.
func refDecode(t *testing.T, link LinkType, data []byte) (d Decoded, ok bool) {
	t.Helper()
	var p gopacket.Packet
	switch link {
	case LinkEthernet:
		p = gopacket.NewPacket(data, layers.LinkTypeEthernet, gopacket.NoCopy)
	case LinkLinuxSLL:
		p = gopacket.NewPacket(data, layers.LinkTypeLinuxSLL, gopacket.NoCopy)
	case LinkLinuxSLL2:
		// gopacket v1.1.19 has no SLL2: skip the 20-byte header by hand.
		et := layers.EthernetType(binary.BigEndian.Uint16(data))
		p = gopacket.NewPacket(data[20:], et.LayerType(), gopacket.NoCopy)
	default:
		t.Fatalf("no reference for %v", link)
	}
	switch ip := p.NetworkLayer().(type) {
	case *layers.IPv4:
		d.Src, _ = netip.AddrFromSlice(ip.SrcIP.To4())
		d.Dst, _ = netip.AddrFromSlice(ip.DstIP.To4())
	case *layers.IPv6:
		d.Src, _ = netip.AddrFromSlice(ip.SrcIP)
		d.Dst, _ = netip.AddrFromSlice(ip.DstIP)
	default:
		return d, false
	}
	switch tl := p.TransportLayer().(type) {
	case *layers.TCP:
		d.Proto, d.SrcPort, d.DstPort = ProtoTCP, uint16(tl.SrcPort), uint16(tl.DstPort)
		d.Seq, d.Ack, d.Window = tl.Seq, tl.Ack, tl.Window
		d.Flags = tl.Contents[13]
		d.Payload = tl.Payload
	case *layers.UDP:
		d.Proto, d.SrcPort, d.DstPort = ProtoUDP, uint16(tl.SrcPort), uint16(tl.DstPort)
		d.Payload = tl.Payload
	default:
		return d, false
	}
	return d, true
}

func sameDecoded(a, b *Decoded) bool {
	return a.Src == b.Src && a.Dst == b.Dst && a.SrcPort == b.SrcPort && a.DstPort == b.DstPort &&
		a.Proto == b.Proto && a.Seq == b.Seq && a.Ack == b.Ack && a.Flags == b.Flags &&
		a.Window == b.Window && bytes.Equal(a.Payload, b.Payload)
}

// TestDecodeRealPackets decodes every packet of the loopback captures and
// compares with gopacket.
func TestDecodeRealPackets(t *testing.T) {
	for _, file := range []string{"lo.pcap", "lo_nano.pcap", "any_sll.pcap", "any_sll2.pcap", "lo.pcapng", "two_links.pcapng", "lo_snap96.pcap"} {
		t.Run(file, func(t *testing.T) {
			pkts := mustReadAll(t, file, testFile(t, file))
			var n4, n6, nudp, ntrunc int
			for _, p := range pkts {
				var d Decoded
				r := DecodePacket(p.Link, p.Data, &d)
				if r != SkipNone {
					t.Fatalf("packet %d (%v): skipped: %v", p.Index, p.Link, r)
				}
				want, ok := refDecode(t, p.Link, p.Data)
				if !ok {
					t.Fatalf("packet %d: gopacket found no TCP/UDP", p.Index)
				}
				if !sameDecoded(&d, &want) {
					t.Fatalf("packet %d:\n got %+v\nwant %+v", p.Index, d, want)
				}
				if d.Truncated != (p.CapLen < p.Len) {
					t.Errorf("packet %d: Truncated %v, caplen %d len %d", p.Index, d.Truncated, p.CapLen, p.Len)
				}
				if d.Src.Is4() {
					n4++
				} else {
					n6++
				}
				if d.Proto == ProtoUDP {
					nudp++
				}
				if d.Truncated {
					ntrunc++
				}
			}
			if n4 == 0 || n6 == 0 || nudp == 0 {
				t.Errorf("want IPv4, IPv6 and UDP packets; got %d, %d, %d", n4, n6, nudp)
			}
			if file == "lo_snap96.pcap" && ntrunc == 0 {
				t.Error("no truncated packet in a snaplen-96 capture")
			}
		})
	}
}

// samplePackets returns a real Ethernet/IPv4/TCP packet with payload and a
// real Ethernet/IPv6/TCP one from lo.pcap.
func samplePackets(t testing.TB) (v4, v6 []byte) {
	for _, p := range mustReadAll(t, "lo.pcap", testFile(t, "lo.pcap")) {
		var d Decoded
		if DecodePacket(LinkEthernet, p.Data, &d) != SkipNone || d.Proto != ProtoTCP || len(d.Payload) == 0 {
			continue
		}
		if d.Src.Is4() && v4 == nil {
			v4 = p.Data
		}
		if d.Src.Is6() && v6 == nil {
			v6 = p.Data
		}
	}
	if v4 == nil || v6 == nil {
		t.Fatal("no sample packets")
	}
	return v4, v6
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

func TestDecodePacket(t *testing.T) {
	eth4, eth6 := samplePackets(t)
	ip4, ip6 := eth4[14:], eth6[14:]
	var want4, want6 Decoded
	if DecodePacket(LinkEthernet, eth4, &want4) != SkipNone || DecodePacket(LinkEthernet, eth6, &want6) != SkipNone {
		t.Fatal("samples do not decode")
	}
	macs := eth4[:12]
	tag := func(tpid, vid uint16) []byte { return cat(be16(tpid), be16(vid)) }
	sll := func(proto uint16) []byte { return cat(be16(0), be16(772), be16(6), make([]byte, 8), be16(proto)) }
	sll2 := func(proto uint16) []byte {
		return cat(be16(proto), be16(0), []byte{0, 0, 0, 1}, be16(772), []byte{0, 6}, make([]byte, 8))
	}
	le32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	be32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

	// IPv4 with 8 bytes of options (NOPs and an end), IHL 7.
	ip4opt := func() []byte {
		b := cat(ip4[:20], []byte{1, 1, 1, 1, 1, 1, 1, 0}, ip4[20:])
		b[0] = 0x47
		binary.BigEndian.PutUint16(b[2:], binary.BigEndian.Uint16(ip4[2:])+8)
		return b
	}()
	// IPv6 with hop-by-hop, destination options, routing and an atomic
	// fragment header before TCP.
	ip6ext := func() []byte {
		hbh := []byte{60, 0, 1, 4, 0, 0, 0, 0}                          // next: dest opts; PadN
		dst := []byte{43, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0} // next: routing, 16 bytes
		rt := []byte{44, 0, 0, 0, 0, 0, 0, 0}                           // routing type 0, segs left 0; next: fragment
		frag := []byte{6, 0, 0, 0, 0, 0, 0, 1}                          // atomic fragment, next: TCP
		ext := cat(hbh, dst, rt, frag)
		b := cat(ip6[:40], ext, ip6[40:])
		b[6] = 0 // hop-by-hop
		binary.BigEndian.PutUint16(b[4:], binary.BigEndian.Uint16(ip6[4:])+uint16(len(ext)))
		return b
	}()
	ip6frag := func(off uint16, more bool) []byte {
		fo := off << 3
		if more {
			fo |= 1
		}
		ext := cat([]byte{6, 0}, be16(fo), []byte{0, 0, 0, 7})
		b := cat(ip6[:40], ext, ip6[40:])
		b[6] = 44
		binary.BigEndian.PutUint16(b[4:], binary.BigEndian.Uint16(ip6[4:])+8)
		return b
	}
	ip4frag := func(v uint16) []byte {
		b := bytes.Clone(ip4)
		binary.BigEndian.PutUint16(b[6:], v)
		return b
	}
	ip4proto := func(p byte) []byte {
		b := bytes.Clone(ip4)
		b[9] = p
		return b
	}
	ip4len := func(n uint16) []byte {
		b := bytes.Clone(ip4)
		binary.BigEndian.PutUint16(b[2:], n)
		return b
	}

	tests := []struct {
		name string
		link LinkType
		data []byte
		want SkipReason
		d    *Decoded // expected when want == SkipNone
	}{
		{"ethernet ipv4", LinkEthernet, eth4, SkipNone, &want4},
		{"ethernet ipv6", LinkEthernet, eth6, SkipNone, &want6},
		{"ethernet padding", LinkEthernet, cat(eth4, make([]byte, 30)), SkipNone, &want4},
		{"vlan", LinkEthernet, cat(macs, tag(0x8100, 5), be16(0x0800), ip4), SkipNone, &want4},
		{"qinq", LinkEthernet, cat(macs, tag(0x88a8, 100), tag(0x8100, 5), be16(0x86dd), ip6), SkipNone, &want6},
		{"qinq old tpid", LinkEthernet, cat(macs, tag(0x9100, 100), tag(0x8100, 5), be16(0x0800), ip4), SkipNone, &want4},
		{"8 tags", LinkEthernet, cat(macs, bytes.Repeat(tag(0x8100, 5), 8), be16(0x0800), ip4), SkipNone, &want4},
		{"9 tags", LinkEthernet, cat(macs, bytes.Repeat(tag(0x8100, 5), 9), be16(0x0800), ip4), SkipMalformed, nil},
		{"vlan cut", LinkEthernet, cat(macs, be16(0x8100), []byte{0}), SkipTruncated, nil},
		{"pppoe", LinkEthernet, cat(macs, be16(0x8864), []byte{0x11, 0, 0, 1, 0, 0}, be16(0x0021), ip4), SkipNone, &want4},
		{"arp", LinkEthernet, cat(macs, be16(0x0806), make([]byte, 28)), SkipNotIP, nil},
		{"ethernet cut", LinkEthernet, eth4[:13], SkipTruncated, nil},
		{"sll", LinkLinuxSLL, cat(sll(0x0800), ip4), SkipNone, &want4},
		{"sll vlan", LinkLinuxSLL, cat(sll(0x8100), be16(5), be16(0x86dd), ip6), SkipNone, &want6},
		{"sll cut", LinkLinuxSLL, sll(0x0800)[:15], SkipTruncated, nil},
		{"sll2", LinkLinuxSLL2, cat(sll2(0x86dd), ip6), SkipNone, &want6},
		{"sll2 ipv4", LinkLinuxSLL2, cat(sll2(0x0800), ip4), SkipNone, &want4},
		{"sll2 cut", LinkLinuxSLL2, sll2(0x0800)[:19], SkipTruncated, nil},
		{"sll2 not ip", LinkLinuxSLL2, cat(sll2(0x0806), make([]byte, 28)), SkipNotIP, nil},
		{"null le ipv4", LinkNull, cat(le32(2), ip4), SkipNone, &want4},
		{"null be ipv4", LinkNull, cat(be32(2), ip4), SkipNone, &want4},
		{"null le ipv6 24", LinkNull, cat(le32(24), ip6), SkipNone, &want6},
		{"null be ipv6 28", LinkNull, cat(be32(28), ip6), SkipNone, &want6},
		{"null le ipv6 30", LinkNull, cat(le32(30), ip6), SkipNone, &want6},
		{"null other family", LinkNull, cat(le32(7), ip4), SkipNotIP, nil},
		{"null cut", LinkNull, []byte{2, 0}, SkipTruncated, nil},
		{"loop ipv4", LinkLoop, cat(be32(2), ip4), SkipNone, &want4},
		{"loop ipv6", LinkLoop, cat(be32(24), ip6), SkipNone, &want6},
		{"raw 101 ipv4", LinkRaw, ip4, SkipNone, &want4},
		{"raw 101 ipv6", LinkRaw, ip6, SkipNone, &want6},
		{"raw 12", LinkRawDLT12, ip4, SkipNone, &want4},
		{"raw 14", LinkRawDLT14, ip6, SkipNone, &want6},
		{"raw version 5", LinkRaw, cat([]byte{0x50}, ip4[1:]), SkipNotIP, nil},
		{"raw empty", LinkRaw, nil, SkipTruncated, nil},
		{"ipv4 link", LinkIPv4, ip4, SkipNone, &want4},
		{"ipv6 link", LinkIPv6, ip6, SkipNone, &want6},
		{"ipv4 link with ipv6", LinkIPv4, ip6, SkipMalformed, nil},
		{"ipv6 link with ipv4", LinkIPv6, ip4, SkipMalformed, nil},
		{"ipv4 options", LinkRaw, ip4opt, SkipNone, &want4},
		{"ipv4 ihl 4", LinkRaw, cat([]byte{0x44}, ip4[1:]), SkipMalformed, nil},
		{"ipv4 total < ihl", LinkRaw, ip4len(12), SkipMalformed, nil},
		{"ipv4 total 0 (tso)", LinkRaw, ip4len(0), SkipNone, &want4},
		{"ipv4 more fragments", LinkRaw, ip4frag(0x2000), SkipFragment, nil},
		{"ipv4 fragment offset", LinkRaw, ip4frag(0x0010), SkipFragment, nil},
		{"ipv4 dont fragment", LinkRaw, ip4frag(0x4000), SkipNone, &want4},
		{"ipv4 icmp", LinkRaw, ip4proto(1), SkipNotTCPUDP, nil},
		{"ipv6 ext headers", LinkRaw, ip6ext, SkipNone, &want6},
		{"ipv6 first fragment", LinkRaw, ip6frag(0, true), SkipFragment, nil},
		{"ipv6 later fragment", LinkRaw, ip6frag(100, false), SkipFragment, nil},
		{"ipv6 atomic fragment", LinkRaw, ip6frag(0, false), SkipNone, &want6},
		{"ipv6 no next header", LinkRaw, func() []byte { b := bytes.Clone(ip6); b[6] = 59; return b }(), SkipNotTCPUDP, nil},
		{"ipv6 ext cut", LinkRaw, ip6ext[:41], SkipTruncated, nil},
		{"ipv4 header cut", LinkRaw, ip4[:19], SkipTruncated, nil},
		{"ipv6 header cut", LinkRaw, ip6[:39], SkipTruncated, nil},
		{"tcp header cut", LinkRaw, ip4[:30], SkipTruncated, nil},
		{"tcp header past ip length", LinkRaw, ip4len(30), SkipMalformed, nil},
		{"tcp data offset 4", LinkRaw, func() []byte { b := bytes.Clone(ip4); b[20+12] = 0x40; return b }(), SkipMalformed, nil},
		{"unknown link", LinkType(147), eth4, SkipUnknownLink, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Decoded
			got := DecodePacket(tt.link, tt.data, &d)
			if got != tt.want {
				t.Fatalf("DecodePacket = %v, want %v", got, tt.want)
			}
			if tt.d != nil && !sameDecoded(&d, tt.d) {
				t.Fatalf("decoded\n %+v\nwant\n %+v", d, *tt.d)
			}
			if tt.d != nil && d.Truncated {
				t.Error("Truncated set on a whole packet")
			}
		})
	}
}

func TestDecodeTruncatedPayload(t *testing.T) {
	eth4, _ := samplePackets(t)
	var d Decoded
	cut := eth4[:len(eth4)-3]
	if r := DecodePacket(LinkEthernet, cut, &d); r != SkipNone || !d.Truncated {
		t.Fatalf("got %v, truncated %v", r, d.Truncated)
	}
	var whole Decoded
	DecodePacket(LinkEthernet, eth4, &whole)
	if !bytes.Equal(d.Payload, whole.Payload[:len(whole.Payload)-3]) {
		t.Error("payload of a cut packet is not the captured part")
	}
	// Every cut inside the headers is SkipTruncated, never malformed.
	for n := 0; n < 14+20+32; n++ {
		if r := DecodePacket(LinkEthernet, eth4[:n], &d); r != SkipTruncated {
			t.Fatalf("cut at %d: %v", n, r)
		}
	}
}

func TestSkipReasons(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range SkipReasons() {
		s := r.String()
		if r == SkipNone || s == "unknown" || seen[s] {
			t.Errorf("bad reason %d %q", r, s)
		}
		seen[s] = true
	}
	if len(seen) != 7 || SkipNone.String() != "none" || SkipReason(200).String() != "unknown" {
		t.Errorf("reasons %v", seen)
	}
	if LinkLinuxSLL2.String() != "LINUX_SLL2" || LinkType(147).String() != "LINKTYPE_147" {
		t.Error("LinkType.String")
	}
}

func TestDecodeAllocs(t *testing.T) {
	eth4, eth6 := samplePackets(t)
	var d Decoded
	allocs := testing.AllocsPerRun(1000, func() {
		DecodePacket(LinkEthernet, eth4, &d)
		DecodePacket(LinkEthernet, eth6, &d)
		DecodePacket(LinkLinuxSLL2, eth6[:], &d)
	})
	if allocs != 0 {
		t.Errorf("DecodePacket allocates %v times", allocs)
	}
}

func BenchmarkDecodePacket(b *testing.B) {
	eth4, eth6 := samplePackets(b)
	sll2 := cat([]byte{0x86, 0xdd, 0, 0, 0, 0, 0, 1, 0x03, 0x04, 0, 6}, make([]byte, 8), eth6[14:])
	for _, bc := range []struct {
		name string
		link LinkType
		data []byte
	}{
		{"ethernet-ipv4-tcp", LinkEthernet, eth4},
		{"ethernet-ipv6-tcp", LinkEthernet, eth6},
		{"sll2-ipv6-tcp", LinkLinuxSLL2, sll2},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var d Decoded
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.data)))
			for b.Loop() {
				if DecodePacket(bc.link, bc.data, &d) != SkipNone {
					b.Fatal("skipped")
				}
			}
		})
	}
}

// TestDecodePPP: PPP frames (DLT 9 and 50, and PPPoE) with and without the
// HDLC address/control bytes and with a compressed protocol field reach
// the same TCP segment as the Ethernet frame they were cut from.
func TestDecodePPP(t *testing.T) {
	eth4, eth6 := samplePackets(t)
	var want4, want6 Decoded
	if DecodePacket(LinkEthernet, eth4, &want4) != SkipNone || DecodePacket(LinkEthernet, eth6, &want6) != SkipNone {
		t.Fatal("samples do not decode")
	}
	ip4, ip6 := eth4[14:], eth6[14:]
	pppoe := func(proto []byte, ip []byte) []byte {
		return cat(eth4[:12], []byte{0x88, 0x64, 0x11, 0, 0, 1, 0, byte(len(ip) + 2)}, proto, ip)
	}
	tests := []struct {
		name string
		link LinkType
		data []byte
		want *Decoded
		skip SkipReason
	}{
		{"ppp v4", LinkPPP, cat([]byte{0xff, 0x03, 0x00, 0x21}, ip4), &want4, SkipNone},
		{"ppp v6", LinkPPP, cat([]byte{0xff, 0x03, 0x00, 0x57}, ip6), &want6, SkipNone},
		{"ppp no address/control", LinkPPP, cat([]byte{0x00, 0x21}, ip4), &want4, SkipNone},
		{"ppp compressed protocol", LinkPPP, cat([]byte{0x21}, ip4), &want4, SkipNone},
		{"ppp hdlc", LinkPPPHDLC, cat([]byte{0xff, 0x03, 0x00, 0x57}, ip6), &want6, SkipNone},
		{"pppoe v4", LinkEthernet, pppoe([]byte{0x00, 0x21}, ip4), &want4, SkipNone},
		{"ppp lcp", LinkPPP, []byte{0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4}, nil, SkipNotIP},
		{"ppp empty", LinkPPP, []byte{0xff, 0x03}, nil, SkipTruncated},
		{"ppp cut protocol", LinkPPP, []byte{0x00}, nil, SkipTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Decoded
			r := DecodePacket(tt.link, tt.data, &d)
			if r != tt.skip {
				t.Fatalf("skip %v, want %v", r, tt.skip)
			}
			if tt.want != nil && (d.Src != tt.want.Src || d.Dst != tt.want.Dst || d.SrcPort != tt.want.SrcPort ||
				d.Seq != tt.want.Seq || !bytes.Equal(d.Payload, tt.want.Payload)) {
				t.Errorf("decoded %v:%d → %v seq %d, want %v:%d → %v", d.Src, d.SrcPort, d.Dst, d.Seq, tt.want.Src, tt.want.SrcPort, tt.want.Dst)
			}
		})
	}
	if LinkPPP.String() != "PPP" || LinkPPPHDLC.String() != "PPP_HDLC" {
		t.Error("PPP link type names")
	}
}
