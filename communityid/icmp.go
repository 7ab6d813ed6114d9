package communityid

import "net/netip"

// ICMP returns the flow of an ICMP (IPv4) message of the given type and
// code from src to dst. As in Zeek (ICMP4_counterpart in
// src/analyzer/protocol/icmp/ICMP.cc) and the spec's reference
// implementation, a request/reply type is paired with its counterpart so
// that both messages hash alike (ports: type and counterpart type); any
// other type is one-way (ports: type and code, direction kept).
func ICMP(src, dst netip.Addr, typ, code uint8) Flow {
	return icmpFlow(ProtoICMP, src, dst, typ, code, icmp4Counterpart)
}

// ICMPv6 is [ICMP] for ICMPv6 messages (ICMP6_counterpart).
func ICMPv6(src, dst netip.Addr, typ, code uint8) Flow {
	return icmpFlow(ProtoICMPv6, src, dst, typ, code, icmp6Counterpart)
}

func icmpFlow(proto uint8, src, dst netip.Addr, typ, code uint8, counterpart func(uint8) (uint8, bool)) Flow {
	f := Flow{Proto: proto, Src: src, Dst: dst, SrcPort: uint16(typ)}
	if c, ok := counterpart(typ); ok {
		f.DstPort = uint16(c)
	} else {
		f.DstPort = uint16(code)
		f.OneWay = true
	}
	return f
}

// icmp4Counterpart pairs the ICMP (RFC 792, 950, 1256) request and reply
// types: echo, timestamp, information, router solicitation/advertisement,
// address mask.
func icmp4Counterpart(t uint8) (uint8, bool) {
	switch t {
	case 8:
		return 0, true
	case 0:
		return 8, true
	case 13:
		return 14, true
	case 14:
		return 13, true
	case 15:
		return 16, true
	case 16:
		return 15, true
	case 10:
		return 9, true
	case 9:
		return 10, true
	case 17:
		return 18, true
	case 18:
		return 17, true
	}
	return 0, false
}

// icmp6Counterpart pairs the ICMPv6 request and reply types: echo, router
// and neighbor discovery, multicast listener query/report, node
// information (who-are-you), home agent address discovery.
func icmp6Counterpart(t uint8) (uint8, bool) {
	switch t {
	case 128:
		return 129, true
	case 129:
		return 128, true
	case 133:
		return 134, true
	case 134:
		return 133, true
	case 135:
		return 136, true
	case 136:
		return 135, true
	case 130:
		return 131, true
	case 131:
		return 130, true
	case 139:
		return 140, true
	case 140:
		return 139, true
	case 144:
		return 145, true
	case 145:
		return 144, true
	}
	return 0, false
}
