package tlsparse

// A small test-only capture reader: pcap and pcapng files, Ethernet (with
// VLAN tags), Linux SLL and SLL2, BSD loopback, raw IP; IPv4, IPv6, TCP; and a
// naive per-direction in-order concatenation of TCP payloads keyed by
// sequence number. It exists so this package's tests can pull ClientHellos
// out of the shared corpus without depending on capture/.

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"os"
	"strings"
)

type capPacket struct {
	link uint32
	data []byte
}

// readCapture returns the packets of a pcap or pcapng file (optionally
// gzip-compressed) with their link types.
func readCapture(path string) ([]capPacket, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		if raw, err = io.ReadAll(zr); err != nil {
			return nil, err
		}
	}
	if len(raw) < 24 {
		return nil, errors.New("short file")
	}
	if binary.LittleEndian.Uint32(raw) == 0x0a0d0d0a {
		return readPcapng(raw)
	}
	return readPcap(raw)
}

func readPcap(raw []byte) ([]capPacket, error) {
	var bo binary.ByteOrder
	switch binary.LittleEndian.Uint32(raw) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		bo = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		bo = binary.BigEndian
	default:
		return nil, errors.New("not pcap")
	}
	link := bo.Uint32(raw[20:]) & 0x0fffffff
	var out []capPacket
	for p := raw[24:]; len(p) >= 16; {
		n := int(bo.Uint32(p[8:]))
		if 16+n > len(p) {
			break
		}
		out = append(out, capPacket{link, p[16 : 16+n]})
		p = p[16+n:]
	}
	return out, nil
}

func readPcapng(raw []byte) ([]capPacket, error) {
	var out []capPacket
	var bo binary.ByteOrder = binary.LittleEndian
	var links []uint32
	for p := raw; len(p) >= 12; {
		typ := bo.Uint32(p)
		if typ == 0x0a0d0d0a {
			if binary.LittleEndian.Uint32(p[8:]) == 0x1a2b3c4d {
				bo = binary.LittleEndian
			} else {
				bo = binary.BigEndian
			}
			links = links[:0]
		}
		n := int(bo.Uint32(p[4:]))
		if n < 12 || n > len(p) {
			break
		}
		b := p[8 : n-4]
		switch typ {
		case 1: // IDB
			links = append(links, uint32(bo.Uint16(b)))
		case 6: // EPB
			if len(b) >= 20 {
				id := int(bo.Uint32(b))
				cl := int(bo.Uint32(b[12:]))
				if id < len(links) && 20+cl <= len(b) {
					out = append(out, capPacket{links[id], b[20 : 20+cl]})
				}
			}
		case 3: // SPB
			if len(links) > 0 && len(b) >= 4 {
				out = append(out, capPacket{links[0], b[4:]})
			}
		}
		p = p[n:]
	}
	return out, nil
}

// ipPayload returns the network-layer packet of a link-layer frame.
func ipPayload(link uint32, d []byte) []byte {
	etherType := func(d []byte, et uint16) []byte {
		for et == 0x8100 || et == 0x88a8 {
			if len(d) < 4 {
				return nil
			}
			et = binary.BigEndian.Uint16(d[2:])
			d = d[4:]
		}
		if et == 0x0800 || et == 0x86dd {
			return d
		}
		return nil
	}
	switch link {
	case 1: // Ethernet
		if len(d) < 14 {
			return nil
		}
		return etherType(d[14:], binary.BigEndian.Uint16(d[12:]))
	case 113: // Linux SLL
		if len(d) < 16 {
			return nil
		}
		return etherType(d[16:], binary.BigEndian.Uint16(d[14:]))
	case 276: // Linux SLL2
		if len(d) < 20 {
			return nil
		}
		return etherType(d[20:], binary.BigEndian.Uint16(d))
	case 0, 108: // BSD loopback
		if len(d) < 4 {
			return nil
		}
		return d[4:]
	case 101, 12, 14, 228, 229: // raw IP
		return d
	}
	return nil
}

type tcpKey struct {
	src, dst netip.AddrPort
}

type tcpDir struct {
	key     tcpKey
	started bool
	next    uint32
	data    []byte
	pending map[uint32][]byte
	syn     bool
}

// tcpFlows reassembles the TCP payloads of packets, naively, per direction.
func tcpFlows(pkts []capPacket) []*tcpDir {
	var all []*tcpDir
	cur := map[tcpKey]*tcpDir{}
	for i := 0; i < len(pkts); i++ {
		pk := pkts[i]
		ip := ipPayload(pk.link, pk.data)
		if len(ip) < 20 {
			continue
		}
		var src, dst netip.Addr
		var proto byte
		var l4 []byte
		switch ip[0] >> 4 {
		case 4:
			ihl := int(ip[0]&0xf) * 4
			tot := int(binary.BigEndian.Uint16(ip[2:]))
			if ihl < 20 || len(ip) < ihl || binary.BigEndian.Uint16(ip[6:])&0x3fff != 0 {
				continue
			}
			if tot >= ihl && tot < len(ip) {
				ip = ip[:tot]
			}
			src = netip.AddrFrom4([4]byte(ip[12:16]))
			dst = netip.AddrFrom4([4]byte(ip[16:20]))
			proto = ip[9]
			l4 = ip[ihl:]
		case 6:
			if len(ip) < 40 {
				continue
			}
			pl := int(binary.BigEndian.Uint16(ip[4:]))
			src = netip.AddrFrom16([16]byte(ip[8:24])).Unmap()
			dst = netip.AddrFrom16([16]byte(ip[24:40])).Unmap()
			proto = ip[6]
			l4 = ip[40:]
			if pl < len(l4) {
				l4 = l4[:pl]
			}
			for proto == 0 || proto == 43 || proto == 60 {
				if len(l4) < 8 {
					break
				}
				proto, l4 = l4[0], l4[8+int(l4[1])*8:]
			}
		default:
			continue
		}
		if proto == 17 && len(l4) > 16 && (binary.BigEndian.Uint16(l4[2:]) == 2152 || binary.BigEndian.Uint16(l4) == 2152) {
			// GTP-U: decapsulate the inner IP packet and run it again.
			g := l4[8:]
			hl := 8
			if g[0]&0x07 != 0 {
				hl = 12
			}
			if len(g) > hl {
				pkts = append(pkts, capPacket{101, g[hl:]})
			}
			continue
		}
		if proto != 6 || len(l4) < 20 {
			continue
		}
		off := int(l4[12]>>4) * 4
		if off < 20 || off > len(l4) {
			continue
		}
		k := tcpKey{netip.AddrPortFrom(src, binary.BigEndian.Uint16(l4)), netip.AddrPortFrom(dst, binary.BigEndian.Uint16(l4[2:]))}
		seq := binary.BigEndian.Uint32(l4[4:])
		flags := l4[13]
		payload := l4[off:]
		d := cur[k]
		if flags&0x02 != 0 { // SYN: a new connection in this direction
			if d == nil || len(d.data) > 0 || d.syn && d.next != seq+1 {
				d = &tcpDir{key: k}
				cur[k] = d
				all = append(all, d)
			}
			d.syn = true
			d.started = true
			d.next = seq + 1
			continue
		}
		if len(payload) == 0 {
			continue
		}
		if d == nil {
			d = &tcpDir{key: k}
			cur[k] = d
			all = append(all, d)
		}
		if !d.started {
			d.started = true
			d.next = seq
		}
		d.add(seq, payload)
	}
	return all
}

func (d *tcpDir) add(seq uint32, p []byte) {
	diff := int32(seq - d.next)
	switch {
	case diff == 0:
		d.data = append(d.data, p...)
		d.next += uint32(len(p))
	case diff < 0:
		if int(-diff) < len(p) {
			d.data = append(d.data, p[-diff:]...)
			d.next += uint32(len(p) + int(diff))
		}
	default:
		if d.pending == nil {
			d.pending = map[uint32][]byte{}
		}
		if len(d.pending) < 4096 {
			d.pending[seq] = append([]byte(nil), p...)
		}
		return
	}
	for len(d.pending) > 0 {
		progressed := false
		for s, q := range d.pending {
			if int32(s-d.next) <= 0 {
				delete(d.pending, s)
				d.add(s, q)
				progressed = true
				break
			}
		}
		if !progressed {
			return
		}
	}
}
