package capture

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/hellowatch/hellowatch/handshake"
)

// samplePacketsOf returns copies of every packet of a sample capture.
func samplePacketsOf(t testing.TB, name string) []Packet {
	t.Helper()
	var out []Packet
	eachPacket(t, []string{filepath.Join("..", "samples", name)}, func(p *Packet) {
		cp := *p
		cp.buf = nil
		cp.Data = bytes.Clone(p.Data)
		out = append(out, cp)
	})
	return out
}

// decidedFlow feeds a sample whose first handshake is decided by the
// server's alert and returns the tracker and the ClientHello packet, which
// fed again is a retransmission on a decided flow.
func decidedFlow(t testing.TB) (*Tracker, *Packet) {
	t.Helper()
	pkts := samplePacketsOf(t, "incident-missing-sni.pcap")
	var recs []*handshake.Handshake
	tr := NewTracker(Config{Emit: func(h *handshake.Handshake) { recs = append(recs, h) }})
	for i := range pkts {
		tr.Packet(&pkts[i])
		if len(recs) > 0 {
			break
		}
	}
	if len(recs) != 1 || recs[0].Outcome != handshake.OutcomeServerAlert {
		t.Fatalf("records %v", recs)
	}
	hello := &pkts[recs[0].FirstPacket-1]
	for i := range pkts {
		if pkts[i].Index >= recs[0].FirstPacket {
			var d Decoded
			if DecodePacket(pkts[i].Link, pkts[i].Data, &d) == SkipNone && len(d.Payload) > 0 {
				hello = &pkts[i]
				break
			}
		}
	}
	return tr, hello
}

// TestTrackerDecidedFlowAllocs: a packet of a decided flow costs one lookup
// and no allocation.
func TestTrackerDecidedFlowAllocs(t *testing.T) {
	tr, p := decidedFlow(t)
	before := tr.Stats()
	allocs := testing.AllocsPerRun(10000, func() { tr.Packet(p) })
	if allocs != 0 {
		t.Errorf("a decided flow's packet allocates %v times", allocs)
	}
	after := tr.Stats()
	if after.Handshakes != before.Handshakes || after.FlowsTracked != before.FlowsTracked {
		t.Errorf("a decided flow's packet changed the table: %+v -> %+v", before, after)
	}
}

// TestTrackerTimerDecisionsAtDeadline: a flow decided by a timer carries the
// deadline as its end, whichever later packet (or Advance) ran the timer.
func TestTrackerTimerDecisionsAtDeadline(t *testing.T) {
	for _, late := range []time.Duration{time.Second, time.Hour} {
		var recs []*handshake.Handshake
		tr := NewTracker(Config{Timeout: 3 * time.Second, Emit: func(h *handshake.Handshake) { recs = append(recs, h) }})
		// Feed the packets up to and including the ClientHello only: the
		// server never answers; the timer decides.
		pkts := samplePacketsOf(t, "no-sni-silent.pcap")
		var last time.Time
		for i := range pkts {
			tr.Packet(&pkts[i])
			last = pkts[i].Time()
			var d Decoded
			if DecodePacket(pkts[i].Link, pkts[i].Data, &d) == SkipNone && len(d.Payload) > 0 {
				break
			}
		}
		tr.Advance(last.Add(3*time.Second + late))
		if len(recs) != 1 {
			t.Fatalf("late=%v: %d records", late, len(recs))
		}
		h := recs[0]
		if h.Outcome != handshake.OutcomeNoResponse {
			t.Errorf("outcome %v", h.Outcome)
		}
		if want := h.ClientHelloTime.Add(3 * time.Second); !h.EndTime.Equal(want) {
			t.Errorf("late=%v: end %v, want the deadline %v", late, h.EndTime, want)
		}
	}
}

// TestTrackerFlowLimit: beyond MaxFlows the oldest flows are evicted and
// counted, and the table never grows past the cap.
func TestTrackerFlowLimit(t *testing.T) {
	data := repeatWithPorts(t, filepath.Join("..", "samples", "split-hello.pcap"), 2<<20)
	src, err := OpenReader("many.pcap", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	tr := NewTracker(Config{MaxFlows: 16, Emit: func(*handshake.Handshake) { n++ }})
	peak := uint64(0)
	var d Decoded
	for p, err := src.Next(); err == nil; p, err = src.Next() {
		// Without FIN and RST, finished connections stay in the table.
		if DecodePacket(p.Link, p.Data, &d) == SkipNone && d.Flags&(tcpFIN|tcpRST) != 0 {
			continue
		}
		tr.Packet(p)
		peak = max(peak, tr.Stats().FlowsTracked)
	}
	tr.Flush()
	s := tr.Stats()
	if peak > 16 {
		t.Errorf("table grew to %d flows, cap 16", peak)
	}
	if s.Evicted["flow_limit"] == 0 {
		t.Errorf("no flow_limit evictions: %+v", s)
	}
	if n == 0 || uint64(n) != s.Handshakes {
		t.Errorf("%d records, stats say %d", n, s.Handshakes)
	}
}

// BenchmarkTrackerDecidedPacket is the cost of the common case on a busy
// host: a packet of a flow whose outcome is known (decode, one lookup).
func BenchmarkTrackerDecidedPacket(b *testing.B) {
	tr, p := decidedFlow(b)
	b.SetBytes(int64(len(p.Data)))
	b.ReportAllocs()
	for b.Loop() {
		tr.Packet(p)
	}
}

// BenchmarkTrackerHandshake measures whole handshakes through reassembly
// and TLS parsing, per sample (split-hello: a hello in several segments;
// reordered: segments out of order).
func BenchmarkTrackerHandshake(b *testing.B) {
	for _, name := range []string{"tls13-alpn.pcap", "split-hello.pcap", "reordered.pcap", "incident-missing-sni.pcap"} {
		pkts := samplePacketsOf(b, name)
		size := 0
		for i := range pkts {
			size += len(pkts[i].Data)
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			n := 0
			tr := NewTracker(Config{Emit: func(*handshake.Handshake) { n++ }})
			for b.Loop() {
				// Each round moves the capture forward in time (new flows
				// once the old ones are finished).
				for i := range pkts {
					tr.Packet(&pkts[i])
				}
				tr.Flush()
			}
			if n == 0 {
				b.Fatal("no handshakes")
			}
		})
	}
}

// BenchmarkPipelineFile reads the benchmark capture (bench/compare.sh makes
// it) through the whole capture path with 0 (inline), 1 and 2 workers.
func BenchmarkPipelineFile(b *testing.B) {
	name := os.Getenv("HELLOWATCH_BENCH_PCAP")
	if name == "" {
		name = "/var/tmp/hellowatch-bench/bench-200M.pcap"
	}
	st, err := os.Stat(name)
	if err != nil {
		b.Skipf("no benchmark capture (%v); make one with bench/compare.sh", err)
	}
	for _, read := range []bool{false, true} {
		for _, workers := range []int{0, 1, 2} {
			// mapped: the file is mapped (the default); read: read(2).
			how := "mapped"
			if read {
				how = "read"
			}
			b.Run(fmt.Sprintf("%s/workers=%d", how, workers), func(b *testing.B) {
				b.SetBytes(st.Size())
				b.ReportAllocs()
				for b.Loop() {
					src, err := OpenFilesWith([]string{name}, FileOptions{NoMap: read})
					if err != nil {
						b.Fatal(err)
					}
					n := 0
					pl := NewPipeline(Config{Emit: func(*handshake.Handshake) { n++ }}, workers, true)
					for p, err := src.Next(); err == nil; p, err = src.Next() {
						pl.Packet(p)
					}
					pl.Flush()
					pl.Close()
					src.Close()
					if n == 0 {
						b.Fatal("no handshakes")
					}
				}
			})
		}
	}
}

// tcpConv builds the Ethernet/IPv4 packets of one TCP conversation between
// a client and a server on loopback addresses, with sequence numbers kept.
type tcpConv struct {
	t      testing.TB
	seq    [2]uint32 // next sequence number of client (0) and server (1)
	ts     int64
	index  uint64
	client net.IP
	server net.IP
	cport  uint16
	sport  uint16
}

func newTCPConv(t testing.TB) *tcpConv {
	return &tcpConv{t: t, seq: [2]uint32{1000, 5000}, ts: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano(),
		client: net.IPv4(127, 0, 0, 1), server: net.IPv4(127, 0, 0, 2), cport: 40000, sport: 443}
}

// packet returns the next packet from side (0 client, 1 server), 1 ms after
// the previous one.
func (c *tcpConv) packet(side int, syn, fin, rst bool, payload []byte) *Packet {
	c.t.Helper()
	src, dst, sp, dp := c.client, c.server, c.cport, c.sport
	if side == 1 {
		src, dst, sp, dp = dst, src, dp, sp
	}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: dst}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dp), Seq: c.seq[side], Ack: c.seq[1-side],
		SYN: syn, FIN: fin, RST: rst, ACK: !syn || side == 1, Window: 65535}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		c.t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{0, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{0, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp, gopacket.Payload(payload)); err != nil {
		c.t.Fatal(err)
	}
	c.seq[side] += uint32(len(payload))
	if syn || fin {
		c.seq[side]++
	}
	c.ts += int64(time.Millisecond)
	c.index++
	data := bytes.Clone(buf.Bytes())
	return &Packet{Data: data, TS: c.ts, CapLen: len(data), Len: len(data), Link: LinkEthernet, Index: c.index}
}

// helloPayload returns the ClientHello segment of a sample.
func helloPayload(t testing.TB, sample string) []byte {
	t.Helper()
	for _, p := range samplePacketsOf(t, sample) {
		var d Decoded
		if DecodePacket(p.Link, p.Data, &d) == SkipNone && len(d.Payload) > 5 && d.Payload[0] == 22 {
			return bytes.Clone(d.Payload)
		}
	}
	t.Fatalf("%s: no ClientHello", sample)
	return nil
}

// TestTrackerShortNotTLSAnswer: a server answering a ClientHello with a few
// bytes of plain text, then closing or resetting or going silent, answered
// with something that is not TLS: not_tls with the bytes it sent, however
// short (the TLS stream otherwise waits for more before it gives up on TLS).
func TestTrackerShortNotTLSAnswer(t *testing.T) {
	hello := helloPayload(t, "incident-missing-sni.pcap")
	for _, end := range []string{"fin", "rst", "silence", "capture end"} {
		t.Run(end, func(t *testing.T) {
			var recs []*handshake.Handshake
			tr := NewTracker(Config{Timeout: time.Second, Emit: func(h *handshake.Handshake) { recs = append(recs, h) }})
			c := newTCPConv(t)
			tr.Packet(c.packet(0, true, false, false, nil))
			tr.Packet(c.packet(1, true, false, false, nil))
			tr.Packet(c.packet(0, false, false, false, nil))
			tr.Packet(c.packet(0, false, false, false, hello))
			tr.Packet(c.packet(1, false, false, false, []byte("ERR\r\n")))
			switch end {
			case "fin":
				tr.Packet(c.packet(1, false, true, false, nil))
			case "rst":
				tr.Packet(c.packet(1, false, false, true, nil))
			case "silence":
				tr.Advance(time.Unix(0, c.ts).Add(time.Minute))
			case "capture end":
				tr.Flush()
			}
			if len(recs) != 1 {
				t.Fatalf("%d records", len(recs))
			}
			h := recs[0]
			if h.Outcome != handshake.OutcomeNotTLS || string(h.NotTLSPrefix) != "ERR\r\n" {
				t.Errorf("outcome %v, prefix %q; want not_tls \"ERR\\r\\n\"", h.Outcome, h.NotTLSPrefix)
			}
		})
	}
}

// TestTrackerEmptyRecordsBeforeHello: empty handshake records in front of a
// ClientHello do not hide it.
func TestTrackerEmptyRecordsBeforeHello(t *testing.T) {
	hello := helloPayload(t, "incident-missing-sni.pcap")
	var lead []byte
	for range 3 {
		lead = append(lead, 22, 3, 1, 0, 0)
	}
	var recs []*handshake.Handshake
	tr := NewTracker(Config{Emit: func(h *handshake.Handshake) { recs = append(recs, h) }})
	c := newTCPConv(t)
	tr.Packet(c.packet(0, true, false, false, nil))
	tr.Packet(c.packet(1, true, false, false, nil))
	tr.Packet(c.packet(0, false, false, false, nil))
	tr.Packet(c.packet(0, false, false, false, append(lead, hello...)))
	tr.Packet(c.packet(1, false, false, false, []byte{21, 3, 3, 0, 2, 2, 40}))
	tr.Flush()
	if len(recs) != 1 {
		t.Fatalf("%d records; stats %+v", len(recs), tr.Stats())
	}
	if h := recs[0]; h.Outcome != handshake.OutcomeServerAlert || h.HasSNI || len(h.ClientVersions) == 0 {
		t.Errorf("outcome %v, SNI %v, versions %v", h.Outcome, h.HasSNI, h.ClientVersions)
	}
}

// TestTrackerHelloAnySegmentation: a ClientHello is found whatever its
// segmentation: a first segment of 1 to 6 bytes (only the record header, or
// less), three-way splits, the parts out of order or retransmitted; the
// record is the one of the hello sent whole. A short first segment that
// turns out to start no hello makes no record.
func TestTrackerHelloAnySegmentation(t *testing.T) {
	hello := helloPayload(t, "ipv6.pcap") // a curl hello with SNI, 500+ bytes
	run := func(t *testing.T, cuts []int, order []int) *handshake.Handshake {
		t.Helper()
		var recs []*handshake.Handshake
		tr := NewTracker(Config{Emit: func(h *handshake.Handshake) { recs = append(recs, h) }})
		c := newTCPConv(t)
		tr.Packet(c.packet(0, true, false, false, nil))
		tr.Packet(c.packet(1, true, false, false, nil))
		tr.Packet(c.packet(0, false, false, false, nil))
		var parts []*Packet
		prev := 0
		for _, cut := range append(cuts, len(hello)) {
			parts = append(parts, c.packet(0, false, false, false, hello[prev:cut]))
			prev = cut
		}
		for _, i := range order {
			tr.Packet(parts[i])
		}
		tr.Packet(c.packet(1, false, false, false, []byte{21, 3, 3, 0, 2, 2, 40}))
		tr.Flush()
		if len(recs) != 1 {
			t.Fatalf("cuts %v order %v: %d records", cuts, order, len(recs))
		}
		return recs[0]
	}
	ref := run(t, nil, []int{0})
	if !ref.HasSNI || ref.JA4 == "" || ref.Outcome != handshake.OutcomeServerAlert {
		t.Fatalf("reference record: %+v", ref)
	}
	cases := []struct {
		cuts, order []int
	}{
		{[]int{1}, []int{0, 1}}, {[]int{2}, []int{0, 1}}, {[]int{3}, []int{0, 1}}, {[]int{4}, []int{0, 1}},
		{[]int{5}, []int{0, 1}}, {[]int{6}, []int{0, 1}},
		{[]int{1, 3, 5}, []int{0, 1, 2, 3}}, {[]int{5, 6}, []int{0, 1, 2}}, {[]int{2, 100}, []int{0, 1, 2}},
		{[]int{5}, []int{1, 0}}, {[]int{1}, []int{1, 0}}, {[]int{1, 3}, []int{2, 1, 0}},
		{[]int{5}, []int{0, 0, 1}}, {[]int{3}, []int{0, 1, 1}},
	}
	for _, tc := range cases {
		h := run(t, tc.cuts, tc.order)
		if h.ServerName != ref.ServerName || h.JA3 != ref.JA3 || h.JA4 != ref.JA4 || h.Outcome != ref.Outcome || h.HelloLen != ref.HelloLen {
			t.Errorf("cuts %v order %v: sni %q ja4 %s outcome %v len %d; want %q %s %v %d",
				tc.cuts, tc.order, h.ServerName, h.JA4, h.Outcome, h.HelloLen, ref.ServerName, ref.JA4, ref.Outcome, ref.HelloLen)
		}
	}
	// A byte that looks like a handshake record's first, then plain text.
	var recs []*handshake.Handshake
	tr := NewTracker(Config{Emit: func(h *handshake.Handshake) { recs = append(recs, h) }})
	c := newTCPConv(t)
	tr.Packet(c.packet(0, true, false, false, nil))
	tr.Packet(c.packet(1, true, false, false, nil))
	tr.Packet(c.packet(0, false, false, false, []byte{22}))
	tr.Packet(c.packet(0, false, false, false, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")))
	tr.Packet(c.packet(1, false, false, false, []byte("HTTP/1.1 200 OK\r\n\r\n")))
	tr.Packet(c.packet(0, false, true, false, nil))
	tr.Flush()
	if len(recs) != 0 {
		t.Errorf("a 0x16 byte before plain text made %d records: %+v", len(recs), recs[0])
	}
}
