package capture

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/internal/testkit"
)

// samplePaths returns the repository's sample captures.
func samplePaths(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, pat := range []string{"*.pcap", "*.pcapng"} {
		m, err := filepath.Glob(filepath.Join("..", "samples", pat))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m...)
	}
	slices.Sort(out)
	if len(out) == 0 {
		t.Fatal("no samples in ../samples")
	}
	return out
}

// recordLine renders a record as one comparable line.
func recordLine(t testing.TB, h *handshake.Handshake) string {
	t.Helper()
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sampleTunnels opens the samples' tunnels: tunnel-vxlan-flannel.pcap's
// VXLAN is on Flannel's port.
var sampleTunnels = TunnelConfig{VXLANPorts: []uint16{8472}}

// runPipeline feeds the files through a Pipeline and returns its records in
// emission order. With copyLive, every packet is handed over as a live
// source would: a copy that is overwritten after the call.
func runPipeline(t testing.TB, files []string, workers int, copyLive bool) []string {
	t.Helper()
	var out []string
	pl := NewPipeline(Config{Tunnels: sampleTunnels, Emit: func(h *handshake.Handshake) { out = append(out, recordLine(t, h)) }}, workers, true)
	defer pl.Close()
	scratch := make([]byte, MaxSnaplen)
	eachPacket(t, files, func(p *Packet) {
		if !copyLive {
			pl.Packet(p)
			return
		}
		lp := *p
		lp.buf = nil
		lp.Data = scratch[:copy(scratch, p.Data)]
		pl.Packet(&lp)
		clear(lp.Data) // a live source reuses its buffer
	})
	pl.Flush()
	return out
}

// runTracker is the reference: one Tracker, records in decision order.
func runTracker(t testing.TB, files []string) []string {
	t.Helper()
	var out []string
	tr := NewTracker(Config{Tunnels: sampleTunnels, Emit: func(h *handshake.Handshake) { out = append(out, recordLine(t, h)) }})
	eachPacket(t, files, tr.Packet)
	tr.Flush()
	return out
}

// eachPacket reads the files in a row and calls fn with every packet.
func eachPacket(t testing.TB, files []string, fn func(*Packet)) {
	t.Helper()
	src, err := OpenFiles(files)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for {
		p, err := src.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		fn(p)
	}
}

// TestPipelineSameRecords: any number of workers gives the records of one
// Tracker, and always in the same order, for every sample and for all of
// them read in a row (where packet time jumps back at every file).
func TestPipelineSameRecords(t *testing.T) {
	samples := samplePaths(t)
	cases := map[string][]string{"all-in-a-row": samples}
	for _, s := range samples {
		cases[filepath.Base(s)] = []string{s}
	}
	for name, files := range cases {
		t.Run(name, func(t *testing.T) {
			ref := runTracker(t, files)
			if len(ref) == 0 {
				t.Fatal("no records")
			}
			want := runPipeline(t, files, 0, false)
			if !sameMultiset(ref, want) {
				t.Fatalf("inline pipeline records differ from a Tracker's:\n%s", diffLines(ref, want))
			}
			for _, workers := range []int{1, 2, 3, 7} {
				for _, live := range []bool{false, true} {
					got := runPipeline(t, files, workers, live)
					if !slices.Equal(got, want) {
						t.Errorf("workers=%d live=%v: records differ from workers=0:\n%s", workers, live, diffLines(want, got))
					}
				}
			}
		})
	}
}

func sameMultiset(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func diffLines(want, got []string) string {
	return fmt.Sprintf("want %d records, got %d; first difference at %s\n", len(want), len(got), testkit.FirstDiff(want, got))
}

// TestPipelineStats: the counters of all workers add up to one Tracker's.
func TestPipelineStats(t *testing.T) {
	files := samplePaths(t)
	var ref TrackerStats
	{
		tr := NewTracker(Config{})
		eachPacket(t, files, tr.Packet)
		tr.Flush()
		ref = tr.Stats()
	}
	for _, workers := range []int{0, 1, 3} {
		pl := NewPipeline(Config{}, workers, true)
		eachPacket(t, files, pl.Packet)
		pl.Flush()
		got := pl.Stats()
		pl.Close()
		if got.Packets != ref.Packets || got.Bytes != ref.Bytes || got.Handshakes != ref.Handshakes ||
			got.TLSFlows != ref.TLSFlows || got.NonTLSFlows != ref.NonTLSFlows ||
			fmt.Sprint(got.Skipped) != fmt.Sprint(ref.Skipped) {
			t.Errorf("workers=%d: stats %+v, want %+v", workers, got, ref)
		}
		if got.Handshakes == 0 {
			t.Error("no handshakes counted")
		}
	}
}

// TestPipelineHoldsFileBuffers: the reader must move on to fresh buffers
// while workers still hold packets of the old ones, and recycle them
// afterwards. 24 MiB of distinct handshakes pass through several buffers;
// a buffer overwritten too early would change or lose records.
func TestPipelineHoldsFileBuffers(t *testing.T) {
	data := repeatWithPorts(t, filepath.Join("..", "samples", "split-hello.pcap"), 24<<20)
	run := func(workers int) []string {
		src, err := OpenReader("big.pcap", bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		cfg := Config{Emit: func(h *handshake.Handshake) { out = append(out, recordLine(t, h)) }}
		// Slow workers down at every decision so that the reader runs
		// ahead as far as the queues let it.
		var n atomic.Int64 // Failed runs on the worker goroutines
		cfg.Failed = func(*handshake.Handshake) bool {
			if n.Add(1)%64 == 0 {
				time.Sleep(time.Millisecond)
			}
			return false
		}
		cfg.PacketOut = func(*Packet) {}
		pl := NewPipeline(cfg, workers, true)
		defer pl.Close()
		for p, err := src.Next(); err == nil; p, err = src.Next() {
			pl.Packet(p)
		}
		pl.Flush()
		return out
	}
	want := run(0)
	if len(want) < 1000 {
		t.Fatalf("only %d records", len(want))
	}
	for _, workers := range []int{1, 2} {
		if got := run(workers); !slices.Equal(got, want) {
			t.Errorf("workers=%d:\n%s", workers, diffLines(want, got))
		}
	}
}

// repeatWithPorts repeats an Ethernet/IPv4 capture's packets until size,
// moving the ephemeral (client) port of every copy so that each copy is a
// new set of connections.
func repeatWithPorts(t testing.TB, file string, size int) []byte {
	t.Helper()
	in, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if LinkType(binary.LittleEndian.Uint32(in[20:])) != LinkEthernet {
		t.Fatalf("%s: not Ethernet", file)
	}
	out := bytes.Clone(in)
	for k := 1; len(out) < size; k++ {
		for off := pcapHeaderLen; off+pcapRecordLen <= len(in); {
			n := int(binary.LittleEndian.Uint32(in[off+8:]))
			rec := bytes.Clone(in[off : off+pcapRecordLen+n])
			pkt := rec[pcapRecordLen:]
			if len(pkt) > 14+20+4 && pkt[12] == 0x08 && pkt[13] == 0x00 {
				tcp := pkt[14+int(pkt[14]&0x0f)*4:]
				for _, i := range []int{0, 2} {
					if p := binary.BigEndian.Uint16(tcp[i:]); p >= 32768 {
						binary.BigEndian.PutUint16(tcp[i:], 32768+(p-32768+uint16(k)*7)%28000)
					}
				}
			}
			out = append(out, rec...)
			off += pcapRecordLen + n
		}
	}
	return out
}

// TestRecordPacketIndexes: every record of every sample names its first
// and last packet, in order and within the file, and each alert's packet
// lies between them, also when a timer decided the flow after its last
// packet (a QUIC or TLS 1.3 handshake that waits for the client's data).
func TestRecordPacketIndexes(t *testing.T) {
	for _, s := range samplePaths(t) {
		t.Run(filepath.Base(s), func(t *testing.T) {
			var recs []*handshake.Handshake
			tr := NewTracker(Config{Emit: func(h *handshake.Handshake) { recs = append(recs, h) }})
			var n uint64
			eachPacket(t, []string{s}, func(p *Packet) {
				n++
				tr.Packet(p)
			})
			tr.Flush()
			for _, h := range recs {
				if h.FirstPacket < 1 || h.FirstPacket > h.LastPacket || h.LastPacket > n {
					t.Errorf("%v -> %v: first_packet %d, last_packet %d, file has %d packets",
						h.Client, h.Server, h.FirstPacket, h.LastPacket, n)
				}
				for _, a := range h.Alerts {
					if a.Packet < h.FirstPacket || a.Packet > h.LastPacket {
						t.Errorf("%v -> %v: alert in packet %d outside %d..%d",
							h.Client, h.Server, a.Packet, h.FirstPacket, h.LastPacket)
					}
				}
			}
		})
	}
}
