// Command mangle rewrites a real Ethernet/IPv4 capture to simulate what a
// sensor sees on a bad day, keeping the bytes real: it only permutes, repeats
// or drops the client's ClientHello segments (the client-to-server data
// segments before the server's first data), or builds an overlapping
// retransmission from the bytes of two adjacent real segments.
//
//	mangle -mode reorder|retransmit|lose -in split-hello.pcap -out reordered.pcap
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

type pkt struct {
	ci   gopacket.CaptureInfo
	data []byte
}

type flowKey struct{ a, b gopacket.Flow }

func main() {
	mode := flag.String("mode", "reorder", "reorder, retransmit or lose")
	in := flag.String("in", "", "input pcap (Ethernet)")
	out := flag.String("out", "", "output pcap")
	flag.Parse()
	if err := run(*mode, *in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "mangle:", err)
		os.Exit(1)
	}
}

func run(mode, in, out string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return fmt.Errorf("read %s: %w", in, err)
	}
	if r.LinkType() != layers.LinkTypeEthernet {
		return fmt.Errorf("%s: link type %v, want Ethernet", in, r.LinkType())
	}
	var pkts []pkt
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		pkts = append(pkts, pkt{ci, data})
	}

	// Find each flow's hello segments: client data before any server data.
	clientOf := map[flowKey]gopacket.Flow{} // flow -> client's network+port key
	serverSpoke := map[flowKey]bool{}
	hello := map[flowKey][]int{}
	var order []flowKey
	for i, p := range pkts {
		pk := gopacket.NewPacket(p.data, layers.LayerTypeEthernet, gopacket.NoCopy)
		tcp, _ := pk.Layer(layers.LayerTypeTCP).(*layers.TCP)
		nl := pk.NetworkLayer()
		if tcp == nil || nl == nil {
			continue
		}
		k := key(nl.NetworkFlow(), tcp.TransportFlow())
		if tcp.SYN && !tcp.ACK {
			clientOf[k] = dirOf(nl.NetworkFlow(), tcp.TransportFlow())
			order = append(order, k)
			continue
		}
		if len(tcp.Payload) == 0 || serverSpoke[k] {
			continue
		}
		if dirOf(nl.NetworkFlow(), tcp.TransportFlow()) == clientOf[k] {
			hello[k] = append(hello[k], i)
		} else {
			serverSpoke[k] = true
		}
	}

	// Build the output as a list of (data) in new order; timestamps stay the
	// original sequence so the file remains in time order.
	outData := make([][]byte, 0, len(pkts)+4)
	outCI := make([]gopacket.CaptureInfo, 0, len(pkts)+4)
	idx := make([]int, len(pkts))
	for i := range idx {
		idx[i] = i
	}
	drop := map[int]bool{}
	extra := map[int][][]byte{} // packets to insert after index i
	changed := 0
	for _, k := range order {
		h := hello[k]
		if len(h) < 3 {
			continue
		}
		changed++
		switch mode {
		case "reorder":
			// Keep the first segment, send the rest in reverse order.
			rest := h[1:]
			for j := range rest {
				idx[rest[j]] = rest[len(rest)-1-j]
			}
		case "retransmit":
			// An exact duplicate of segment 2 after segment 3, and an
			// overlapping retransmission (second half of segment 1 plus first
			// half of segment 2) after the last segment.
			extra[h[2]] = append(extra[h[2]], pkts[h[1]].data)
			ov, err := overlap(pkts[h[0]].data, pkts[h[1]].data)
			if err != nil {
				return err
			}
			last := h[len(h)-1]
			extra[last] = append(extra[last], ov)
		case "lose":
			drop[h[1]] = true
		default:
			return fmt.Errorf("unknown mode %q", mode)
		}
	}
	if changed == 0 {
		return fmt.Errorf("%s: no flow with a ClientHello of 3 or more segments", in)
	}
	for i := range pkts {
		if !drop[idx[i]] {
			outData = append(outData, pkts[idx[i]].data)
			ci := pkts[i].CaptureInfo()
			ci.CaptureLength, ci.Length = len(pkts[idx[i]].data), len(pkts[idx[i]].data)
			outCI = append(outCI, ci)
		}
		for j, e := range extra[i] {
			ci := pkts[i].ci
			ci.Timestamp = ci.Timestamp.Add(time.Duration(j+1) * time.Microsecond)
			ci.CaptureLength, ci.Length = len(e), len(e)
			outData = append(outData, e)
			outCI = append(outCI, ci)
		}
	}

	o, err := os.Create(out)
	if err != nil {
		return err
	}
	w := pcapgo.NewWriter(o)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return err
	}
	for i := range outData {
		if err := w.WritePacket(outCI[i], outData[i]); err != nil {
			return err
		}
	}
	return o.Close()
}

func (p pkt) CaptureInfo() gopacket.CaptureInfo { return p.ci }

func key(n, t gopacket.Flow) flowKey {
	a, b := dirOf(n, t), dirOf(n.Reverse(), t.Reverse())
	if a.String() > b.String() {
		a, b = b, a
	}
	return flowKey{a, b}
}

func dirOf(n, t gopacket.Flow) gopacket.Flow {
	return gopacket.NewFlow(layers.EndpointTCPPort,
		append(append([]byte{}, n.Src().Raw()...), t.Src().Raw()...),
		append(append([]byte{}, n.Dst().Raw()...), t.Dst().Raw()...))
}

// overlap builds a segment carrying the second half of a's payload and the
// first half of b's (a and b adjacent segments of one direction), with the
// headers of a, the sequence number fixed and lengths and checksums recomputed.
func overlap(a, b []byte) ([]byte, error) {
	pa := gopacket.NewPacket(a, layers.LayerTypeEthernet, gopacket.Default)
	pb := gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.Default)
	eth := *pa.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	ip := *pa.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	tcp := *pa.Layer(layers.LayerTypeTCP).(*layers.TCP)
	tb := pb.Layer(layers.LayerTypeTCP).(*layers.TCP)
	half := len(tcp.Payload) / 2
	payload := append(append([]byte{}, tcp.Payload[half:]...), tb.Payload[:len(tb.Payload)/2]...)
	tcp.Seq += uint32(half)
	ip.Id++
	if err := tcp.SetNetworkLayerForChecksum(&ip); err != nil {
		return nil, err
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, &eth, &ip, &tcp, gopacket.Payload(payload)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
