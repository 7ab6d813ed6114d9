package capture

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// samplePacketsOf returns copies of every packet of a sample capture.
func samplePacketsOf(t testing.TB, name string) []Packet {
	t.Helper()
	src, err := OpenFiles([]string{filepath.Join("..", "samples", name)})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var out []Packet
	for {
		p, err := src.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		cp := *p
		cp.buf = nil
		cp.Data = bytes.Clone(p.Data)
		out = append(out, cp)
	}
}

// decidedFlow feeds a sample whose first handshake is decided by the
// server's alert and returns the tracker and the ClientHello packet, which
// fed again is a retransmission on a decided flow.
func decidedFlow(t testing.TB) (*Tracker, *Packet) {
	t.Helper()
	pkts := samplePacketsOf(t, "incident-missing-sni.pcap")
	var recs []*Handshake
	tr := NewTracker(Config{Emit: func(h *Handshake) { recs = append(recs, h) }})
	for i := range pkts {
		tr.Packet(&pkts[i])
		if len(recs) > 0 {
			break
		}
	}
	if len(recs) != 1 || recs[0].Outcome != OutcomeServerAlert {
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
		var recs []*Handshake
		tr := NewTracker(Config{Timeout: 3 * time.Second, Emit: func(h *Handshake) { recs = append(recs, h) }})
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
		if h.Outcome != OutcomeNoResponse {
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
	tr := NewTracker(Config{MaxFlows: 16, Emit: func(*Handshake) { n++ }})
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
			tr := NewTracker(Config{Emit: func(*Handshake) { n++ }})
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
	for _, workers := range []int{0, 1, 2} {
		b.Run("workers="+string(rune('0'+workers)), func(b *testing.B) {
			b.SetBytes(st.Size())
			b.ReportAllocs()
			for b.Loop() {
				src, err := OpenFiles([]string{name})
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				pl := NewPipeline(Config{Emit: func(*Handshake) { n++ }}, workers, true)
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
