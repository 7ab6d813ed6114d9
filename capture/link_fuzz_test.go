package capture

import (
	"encoding/binary"
	"testing"
	"unsafe"
)

// within reports whether sub lies inside data's memory.
func within(sub, data []byte) bool {
	if len(sub) == 0 {
		return true
	}
	s := uintptr(unsafe.Pointer(unsafe.SliceData(sub)))
	d := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	return s >= d && s+uintptr(len(sub)) <= d+uintptr(len(data))
}

func checkDecoded(t *testing.T, r SkipReason, d *Decoded, data []byte) {
	if r >= numSkipReasons {
		t.Fatalf("reason %d out of range", r)
	}
	if r != SkipNone {
		return
	}
	if d.Proto != ProtoTCP && d.Proto != ProtoUDP {
		t.Fatalf("proto %d", d.Proto)
	}
	if !d.Src.IsValid() || !d.Dst.IsValid() || d.Src.Is4() != d.Dst.Is4() || d.Src.Zone() != "" {
		t.Fatalf("addresses %v %v", d.Src, d.Dst)
	}
	if !within(d.Payload, data) {
		t.Fatal("payload does not alias the packet")
	}
}

func FuzzDecodePacket(f *testing.F) {
	for _, name := range []string{"lo.pcap", "any_sll.pcap", "any_sll2.pcap", "lo_snap96.pcap"} {
		for i, p := range mustReadAll(f, name, testFile(f, name)) {
			if i < 12 {
				f.Add(uint32(p.Link), p.Data)
			}
		}
	}
	eth4, eth6 := samplePackets(f)
	for _, l := range []LinkType{LinkNull, LinkLoop} {
		f.Add(uint32(l), cat([]byte{0, 0, 0, 2}, eth4[14:]))
		f.Add(uint32(l), cat([]byte{30, 0, 0, 0}, eth6[14:]))
	}
	for _, l := range []LinkType{LinkRaw, LinkRawDLT12, LinkRawDLT14, LinkIPv4, LinkIPv6} {
		f.Add(uint32(l), eth4[14:])
		f.Add(uint32(l), eth6[14:])
	}
	f.Add(uint32(LinkEthernet), cat(eth4[:12], []byte{0x88, 0xa8, 0, 1, 0x81, 0, 0, 2, 8, 0}, eth4[14:]))
	f.Fuzz(func(t *testing.T, link uint32, data []byte) {
		var d, d2 Decoded
		r := DecodePacket(LinkType(link), data, &d)
		checkDecoded(t, r, &d, data)
		if r2 := DecodePacket(LinkType(link), data, &d2); r2 != r || (r == SkipNone && !sameDecoded(&d, &d2)) {
			t.Fatal("not deterministic")
		}
		// Ethernet carrying IPv4 decodes as the bare IPv4 packet does.
		if LinkType(link) == LinkEthernet && len(data) >= 14 && binary.BigEndian.Uint16(data[12:]) == etherTypeIPv4 {
			var d3 Decoded
			r3 := DecodePacket(LinkIPv4, data[14:], &d3)
			if r3 != r || (r == SkipNone && (!sameDecoded(&d, &d3) || d.Truncated != d3.Truncated)) {
				t.Fatalf("ethernet %v, bare ipv4 %v", r, r3)
			}
		}
	})
}
