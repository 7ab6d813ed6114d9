package capture_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hellowatch/hellowatch/capture"
	"github.com/hellowatch/hellowatch/diagnose"
	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/report"
)

// fuzzLinks are the link types a fuzz input's packets may claim; an input
// picks one per packet by index (modulo the length), the last one being a
// link type hellowatch does not decode.
var fuzzLinks = []capture.LinkType{
	capture.LinkEthernet, capture.LinkNull, capture.LinkLoop, capture.LinkRaw,
	capture.LinkRawDLT12, capture.LinkLinuxSLL, capture.LinkLinuxSLL2,
	capture.LinkIPv4, capture.LinkIPv6, 0xffff,
}

// fuzzHeaderLen is the size of a packet's header in a FuzzTracker input:
// link index (1 byte), time since the previous packet in units of 100 µs
// (2 bytes), captured length (2 bytes, cut to what is left of the input).
const fuzzHeaderLen = 5

// fuzzPacket is one packet split off a FuzzTracker input.
type fuzzPacket struct {
	link capture.LinkType
	dt   time.Duration
	data []byte
}

// splitFuzzInput turns a fuzz input into packets. Its first byte chooses
// the tracker configuration (see fuzzConfig); the rest is a sequence of
// header + bytes.
func splitFuzzInput(data []byte) (mode byte, pkts []fuzzPacket) {
	if len(data) == 0 {
		return 0, nil
	}
	mode, data = data[0], data[1:]
	for len(data) >= fuzzHeaderLen {
		link := fuzzLinks[int(data[0])%len(fuzzLinks)]
		dt := time.Duration(binary.BigEndian.Uint16(data[1:])) * 100 * time.Microsecond
		n := min(int(binary.BigEndian.Uint16(data[3:])), len(data)-fuzzHeaderLen)
		pkts = append(pkts, fuzzPacket{link, dt, data[fuzzHeaderLen : fuzzHeaderLen+n]})
		data = data[fuzzHeaderLen+n:]
	}
	return mode, pkts
}

// encodeFuzzInput is the inverse of splitFuzzInput, for seeds.
func encodeFuzzInput(mode byte, pkts []fuzzPacket) []byte {
	out := []byte{mode}
	for _, p := range pkts {
		li := len(fuzzLinks) - 1
		for i, l := range fuzzLinks {
			if l == p.link {
				li = i
				break
			}
		}
		units := min(p.dt/(100*time.Microsecond), 0xffff)
		out = append(out, byte(li))
		out = binary.BigEndian.AppendUint16(out, uint16(units))
		out = binary.BigEndian.AppendUint16(out, uint16(min(len(p.data), 0xffff)))
		out = append(out, p.data[:min(len(p.data), 0xffff)]...)
	}
	return out
}

// fuzzConfig returns the tracker limits for a mode byte: bit 0 chooses tiny
// caps (a few flows, a few KiB buffered) so that every eviction path runs;
// bit 1 turns on the -w path (Failed/PacketOut).
func fuzzConfig(mode byte) capture.Config {
	cfg := capture.Config{Timeout: 2 * time.Second, PostTimeout: 500 * time.Millisecond, IdleTimeout: 5 * time.Second}
	if mode&1 != 0 {
		cfg.MaxFlows = 4
		cfg.MaxFlowBytes = 2048
		cfg.MaxBufferedBytes = 4096
	} else {
		cfg.MaxFlows = 64
		cfg.MaxFlowBytes = 64 << 10
		cfg.MaxBufferedBytes = 256 << 10
	}
	return cfg
}

// readSamplePackets reads the packets of one of the repository's samples.
func readSamplePackets(tb testing.TB, path string, limit int) []fuzzPacket {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	src, err := capture.OpenReader(path, bytes.NewReader(data))
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	var out []fuzzPacket
	var last int64
	for len(out) < limit {
		p, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		var dt time.Duration
		if last != 0 && p.TS > last {
			dt = time.Duration(p.TS - last)
		}
		last = p.TS
		out = append(out, fuzzPacket{p.Link, dt, bytes.Clone(p.Data)})
	}
	return out
}

// FuzzTracker drives the whole packet path — link decoding, flow table,
// reassembly, TLS parsing, the tracker's decisions — and the writers that
// print its records, with random packet sequences seeded from the samples.
// It checks that every record is well formed and prints as one line of
// valid JSON and as text without control bytes, that the tracker's
// counters agree with what it was fed, and that its memory stays within
// the configured caps after every packet.
func FuzzTracker(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("..", "samples", "*.pcap*"))
	if len(paths) == 0 {
		f.Fatal("no samples")
	}
	var all [][]fuzzPacket
	for _, p := range paths {
		pkts := readSamplePackets(f, p, 48)
		all = append(all, pkts)
		f.Add(encodeFuzzInput(0, pkts))
		f.Add(encodeFuzzInput(3, pkts))
	}
	// Two captures interleaved: several flows in the table at once.
	var mixed []fuzzPacket
	for i := 0; i < 48; i++ {
		for _, pkts := range all[:4] {
			if i < len(pkts) {
				mixed = append(mixed, pkts[i])
			}
		}
	}
	f.Add(encodeFuzzInput(1, mixed))
	f.Fuzz(func(t *testing.T, data []byte) {
		mode, pkts := splitFuzzInput(data)
		checkTrackerRun(t, fuzzConfig(mode), mode&2 != 0, pkts)
	})
}

// checkTrackerRun feeds pkts to a tracker made with cfg and checks the
// properties FuzzTracker promises.
func checkTrackerRun(t *testing.T, cfg capture.Config, writeFailed bool, pkts []fuzzPacket) {
	var recs []*handshake.Handshake
	cfg.Emit = func(h *handshake.Handshake) { recs = append(recs, h) }
	var out int
	if writeFailed {
		cfg.Failed = func(h *handshake.Handshake) bool { return h.Outcome != handshake.OutcomeEstablished }
		cfg.PacketOut = func(p *capture.Packet) {
			if p.CapLen != len(p.Data) {
				t.Fatalf("PacketOut: caplen %d, %d bytes", p.CapLen, len(p.Data))
			}
			out++
		}
	}
	tr := capture.NewTracker(cfg)
	wantSkipped := map[string]uint64{}
	var bytesIn, udpMax uint64
	ts := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()
	var d capture.Decoded
	for i, fp := range pkts {
		ts += int64(fp.dt)
		p := &capture.Packet{Data: fp.data, TS: ts, CapLen: len(fp.data), Len: len(fp.data), Link: fp.link, Index: uint64(i + 1)}
		if r := capture.DecodePacket(fp.link, fp.data, &d); r != capture.SkipNone {
			wantSkipped[r.String()]++
		} else if d.Proto == capture.ProtoUDP {
			// UDP is skipped unless it belongs to a QUIC connection
			// (capture/quic.go): at most this many.
			udpMax++
		} else if d.Proto != capture.ProtoTCP && d.Proto != capture.ProtoUDP {
			wantSkipped[capture.SkipNotTCPUDP.String()]++
		}
		bytesIn += uint64(len(fp.data))
		tr.Packet(p)
		st := tr.Stats()
		if st.FlowsTracked > uint64(cfg.MaxFlows) {
			t.Fatalf("packet %d: %d flows tracked, cap %d", i+1, st.FlowsTracked, cfg.MaxFlows)
		}
		if st.BufferedBytes > uint64(cfg.MaxBufferedBytes) {
			t.Fatalf("packet %d: %d bytes buffered, cap %d", i+1, st.BufferedBytes, cfg.MaxBufferedBytes)
		}
		if st.ActiveFlows > st.FlowsTracked {
			t.Fatalf("packet %d: %d active flows, %d tracked", i+1, st.ActiveFlows, st.FlowsTracked)
		}
	}
	tr.Flush()
	st := tr.Stats()
	if st.Packets != uint64(len(pkts)) || st.Bytes != bytesIn {
		t.Fatalf("stats: %d packets, %d bytes; fed %d, %d", st.Packets, st.Bytes, len(pkts), bytesIn)
	}
	notTCPUDP := capture.SkipNotTCPUDP.String()
	if n := st.Skipped[notTCPUDP]; n < wantSkipped[notTCPUDP] || n > wantSkipped[notTCPUDP]+udpMax {
		t.Fatalf("skipped %v, want %v plus at most %d UDP", st.Skipped, wantSkipped, udpMax)
	}
	for k, v := range st.Skipped {
		if k != notTCPUDP && wantSkipped[k] != v {
			t.Fatalf("skipped %v, want %v", st.Skipped, wantSkipped)
		}
	}
	for k, v := range wantSkipped {
		if k != notTCPUDP && st.Skipped[k] != v {
			t.Fatalf("skipped %v, want %v", st.Skipped, wantSkipped)
		}
	}
	if st.Handshakes != uint64(len(recs)) {
		t.Fatalf("stats: %d handshakes, %d emitted", st.Handshakes, len(recs))
	}
	if st.TLSFlows != st.Handshakes {
		t.Fatalf("stats: %d TLS flows but %d handshakes reported after Flush", st.TLSFlows, st.Handshakes)
	}
	var evicted uint64
	for _, n := range st.Evicted {
		evicted += n
	}
	ambiguous := uint64(0)
	for i, h := range recs {
		checkRecord(t, i, h)
		if h.Ambiguous {
			ambiguous++
		}
	}
	if ambiguous > st.Ambiguous {
		t.Fatalf("%d ambiguous records, stats say %d", ambiguous, st.Ambiguous)
	}
	if !writeFailed && out != 0 {
		t.Fatal("PacketOut called without Failed")
	}
}

// checkRecord checks one emitted record and its JSON and text forms.
func checkRecord(t *testing.T, i int, h *handshake.Handshake) {
	t.Helper()
	if h.Outcome.String() == "unknown" {
		t.Fatalf("record %d: outcome %d", i, h.Outcome)
	}
	if (h.Transport != handshake.TransportTCP && h.Transport != handshake.TransportQUIC) || !h.Client.IsValid() || !h.Server.IsValid() {
		t.Fatalf("record %d: transport %q, client %v, server %v", i, h.Transport, h.Client, h.Server)
	}
	if h.Established() != (h.Outcome == handshake.OutcomeEstablished) {
		t.Fatalf("record %d: established mismatch", i)
	}
	if len(h.History) > 64 || len(h.Alerts) > 16 || len(h.NotTLSPrefix) > 64 || h.Packets == 0 {
		t.Fatalf("record %d: history %d, alerts %d, not-TLS prefix %d, packets %d", i, len(h.History), len(h.Alerts), len(h.NotTLSPrefix), h.Packets)
	}
	if h.LastPacket != 0 && h.FirstPacket > h.LastPacket {
		t.Fatalf("record %d: first packet %d after last %d", i, h.FirstPacket, h.LastPacket)
	}
	if !h.EndTime.IsZero() && h.EndTime.Before(h.ClientHelloTime) {
		t.Fatalf("record %d: ends %v before its hello %v", i, h.EndTime, h.ClientHelloTime)
	}
	if len(h.Tunnel) > capture.MaxTunnels {
		t.Fatalf("record %d: %d tunnels", i, len(h.Tunnel))
	}
	for _, tn := range h.Tunnel {
		if tn.Type.String() == "unknown" || tn.Src.IsValid() != tn.Dst.IsValid() || tn.HasID && tn.Type.IDName() == "" {
			t.Fatalf("record %d: tunnel %+v", i, tn)
		}
	}
	fs := diagnose.Diagnose(h)
	line := report.AppendJSON(nil, h, fs)
	if !utf8.Valid(line) || !json.Valid(line) || bytes.ContainsAny(line, "\n\r") {
		t.Fatalf("record %d: bad JSON line %q", i, line)
	}
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatal(err)
	}
	if m["outcome"] != h.Outcome.String() || m["ambiguous"] != h.Ambiguous {
		t.Fatalf("record %d: JSON outcome %v ambiguous %v, record %v %v", i, m["outcome"], m["ambiguous"], h.Outcome, h.Ambiguous)
	}
	var tb bytes.Buffer
	if err := report.NewTextWriter(&tb, false).Write(h, fs); err != nil {
		t.Fatal(err)
	}
	for _, c := range tb.Bytes() {
		if (c < 0x20 && c != '\n') || c == 0x7f {
			t.Fatalf("record %d: control byte 0x%02x in text %q", i, c, tb.Bytes())
		}
	}
	if !utf8.Valid(tb.Bytes()) {
		t.Fatalf("record %d: text is not UTF-8: %q", i, tb.Bytes())
	}
}
