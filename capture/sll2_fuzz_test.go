package capture

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func FuzzSLL2(f *testing.F) {
	for i, p := range mustReadAll(f, "any_sll2.pcap", testFile(f, "any_sll2.pcap")) {
		if i < 16 {
			f.Add(p.Data)
		}
	}
	f.Add(make([]byte, 19))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, payload, ok := DecodeSLL2(data)
		if ok != (len(data) >= 20) {
			t.Fatalf("ok %v for %d bytes", ok, len(data))
		}
		var d Decoded
		r := DecodePacket(LinkLinuxSLL2, data, &d)
		checkDecoded(t, r, &d, data)
		if !ok {
			if r != SkipTruncated {
				t.Fatalf("short header: %v", r)
			}
			return
		}
		if h.Protocol != binary.BigEndian.Uint16(data) || h.IfIndex != binary.BigEndian.Uint32(data[4:]) ||
			h.ARPHRD != binary.BigEndian.Uint16(data[8:]) || h.PacketType != data[10] || h.AddrLen != data[11] ||
			!bytes.Equal(h.Addr[:], data[12:20]) || !within(payload, data) || len(payload) != len(data)-20 {
			t.Fatalf("header %+v", h)
		}
		// The same payload behind an Ethernet header decodes the same way.
		eth := append(make([]byte, 12), data[0], data[1])
		eth = append(eth, payload...)
		var de Decoded
		if re := DecodePacket(LinkEthernet, eth, &de); re != r || (r == SkipNone && (!sameDecoded(&d, &de) || d.Truncated != de.Truncated)) {
			t.Fatalf("sll2 %v, ethernet %v", r, re)
		}
	})
}
