package capture

import (
	"encoding/binary"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/hellowatch/hellowatch/handshake"
)

// FuzzDecapsulate feeds Ethernet frames to the tunnel decoders (all of
// them: IP in IP, GRE, ERSPAN, VXLAN on 4789 and a configured 8472,
// GENEVE, MPLS, PPPoE, CAPWAP, GTP-U), seeded with every encapsulation of
// TestDecodeTunnels and the tunnel samples' packets. Properties: no
// panic; a decoded packet has valid inner addresses and a payload inside
// the frame; at most MaxTunnels layers, each of a known type, with outer
// endpoints either both present or both absent; the same frame decodes
// the same way twice; and the frame's IP packet wrapped in one more
// IP-in-IP layer decodes to the same inner packet one layer deeper (or,
// at MaxTunnels, is skipped as too deep).
func FuzzDecapsulate(f *testing.F) {
	eth4, eth6 := samplePackets(f)
	for _, w := range tunnelWraps() {
		for i, bare := range [][]byte{eth4, eth6} {
			f.Add(w.build(f, bare[14:], i == 1, i))
		}
	}
	paths, _ := filepath.Glob(filepath.Join("..", "samples", "tunnel-*.pcap"))
	for _, p := range paths {
		n := 0
		eachPacket(f, []string{p}, func(pk *Packet) {
			if n < 8 && pk.Link == LinkEthernet {
				f.Add(append([]byte(nil), pk.Data...))
			}
			n++
		})
	}
	tc := &TunnelConfig{VXLANPorts: []uint16{8472}}
	f.Fuzz(func(t *testing.T, frame []byte) {
		var d, d2 Decoded
		r := DecodePacketWith(LinkEthernet, frame, &d, tc)
		checkDecoded(t, r, &d, frame)
		if r != SkipNone {
			return
		}
		if d.NTunnels > MaxTunnels {
			t.Fatalf("%d tunnels", d.NTunnels)
		}
		for _, tn := range d.Tunnels[:d.NTunnels] {
			if tn.Type == handshake.TunnelUnknown || tn.Type.String() == "unknown" || tn.Src.IsValid() != tn.Dst.IsValid() {
				t.Fatalf("tunnel %+v", tn)
			}
		}
		if r2 := DecodePacketWith(LinkEthernet, frame, &d2, tc); r2 != r || !sameDecoded(&d, &d2) || d.NTunnels != d2.NTunnels || d.Tunnels != d2.Tunnels {
			t.Fatal("not deterministic")
		}
		// One more layer of IP in IPv4 around the frame's IP packet.
		if len(frame) < 15 || len(frame) > 60000 {
			return
		}
		var proto byte
		switch binary.BigEndian.Uint16(frame[12:]) {
		case etherTypeIPv4:
			proto = protoIPv4
		case etherTypeIPv6:
			proto = protoIPv6
		default:
			return
		}
		outer := make([]byte, 20)
		outer[0] = 0x45
		binary.BigEndian.PutUint16(outer[2:], uint16(20+len(frame)-14))
		outer[8], outer[9] = 64, proto
		copy(outer[12:], outerA4.AsSlice())
		copy(outer[16:], outerB4.AsSlice())
		wrapped := cat(frame[:12], be16(etherTypeIPv4), outer, frame[14:])
		var dw Decoded
		rw := DecodePacketWith(LinkEthernet, wrapped, &dw, tc)
		if d.NTunnels == MaxTunnels {
			if rw != SkipTunnelDepth {
				t.Fatalf("one layer past MaxTunnels: %v", rw)
			}
			return
		}
		if rw != SkipNone || dw.NTunnels != d.NTunnels+1 || dw.Src != d.Src || dw.Dst != d.Dst ||
			dw.SrcPort != d.SrcPort || dw.DstPort != d.DstPort || string(dw.Payload) != string(d.Payload) {
			t.Fatalf("wrapped once more: %v, %d tunnels, %v:%d > %v:%d; was %d tunnels, %v:%d > %v:%d",
				rw, dw.NTunnels, dw.Src, dw.SrcPort, dw.Dst, dw.DstPort, d.NTunnels, d.Src, d.SrcPort, d.Dst, d.DstPort)
		}
		want := handshake.TunnelIPIP
		if proto == protoIPv6 {
			want = handshake.Tunnel6in4
		}
		if l := dw.Tunnels[0]; l.Type != want || l.Src != netip.AddrPortFrom(outerA4, 0) || l.Dst != netip.AddrPortFrom(outerB4, 0) {
			t.Fatalf("outer layer %+v", l)
		}
		for i := 0; i < int(d.NTunnels); i++ {
			if dw.Tunnels[i+1] != d.Tunnels[i] {
				t.Fatalf("layer %d: %+v, was %+v", i, dw.Tunnels[i+1], d.Tunnels[i])
			}
		}
	})
}
