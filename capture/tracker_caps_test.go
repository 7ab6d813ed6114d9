package capture_test

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/hellowatch/hellowatch/capture"
	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/internal/hostile"
)

// capRun is what runCapped saw.
type capRun struct {
	recs       []*handshake.Handshake
	tr         *capture.Tracker
	peak       uint64 // most bytes buffered after any packet
	peakActive uint64 // most flows in their handshake at once
	heap       int64  // heap growth while the flows were tracked (before Flush)
}

// runCapped feeds a capture through a Tracker with MaxBufferedBytes maxBuf,
// failing as soon as the buffered total passes the cap, and flushes it.
func runCapped(t *testing.T, pcap *bytes.Buffer, maxBuf int64) capRun {
	t.Helper()
	var r capRun
	r.tr = capture.NewTracker(capture.Config{MaxBufferedBytes: maxBuf, Emit: func(h *handshake.Handshake) { r.recs = append(r.recs, h) }})
	src, err := capture.OpenReader("caps", pcap)
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for {
		p, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		r.tr.Packet(p)
		st := r.tr.Stats()
		if st.BufferedBytes > uint64(maxBuf) {
			t.Fatalf("%d bytes buffered, cap %d", st.BufferedBytes, maxBuf)
		}
		r.peak = max(r.peak, st.BufferedBytes)
		r.peakActive = max(r.peakActive, st.ActiveFlows)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	r.heap = int64(after.HeapAlloc) - int64(before.HeapAlloc)
	r.tr.Flush()
	return r
}

// TestBufferCapHeldAnswers is the regression test for the server's answer
// to a hello whose rest is missing: it is held until the hello is whole,
// and those bytes used to be added to the global account without checking
// MaxBufferedBytes, so many such flows held MaxFlowBytes each, uncapped.
func TestBufferCapHeldAnswers(t *testing.T) {
	var pcap bytes.Buffer
	w, err := hostile.NewWriter(&pcap)
	if err != nil {
		t.Fatal(err)
	}
	hello := hostile.Records(22, hostile.Hello{SNI: []byte("cap.example")}.Message())
	answer := make([]byte, 1000)
	const flows, answers = 20, 50
	for i := 0; i < flows; i++ {
		c, err := w.Open(hostile.Endpoint{IP: [4]byte{10, 0, 0, byte(i + 1)}, Port: 40000}, hostile.Endpoint{IP: [4]byte{192, 0, 2, 1}, Port: 443})
		if err != nil {
			t.Fatal(err)
		}
		// The hello's first 20 bytes only: the rest is lost.
		if err := c.ClientSend(hello[:20], 1460); err != nil {
			t.Fatal(err)
		}
		c.CSeq += uint32(len(hello) - 20)
		for j := 0; j < answers; j++ {
			if err := c.ServerSend(answer, 1460); err != nil {
				t.Fatal(err)
			}
		}
	}
	const maxBuf = 64 << 10
	r := runCapped(t, &pcap, maxBuf)
	recs, peak, tr := r.recs, r.peak, r.tr
	st := tr.Stats()
	if peak > maxBuf {
		t.Errorf("%d bytes buffered at peak, cap %d", peak, maxBuf)
	}
	if st.Evicted["buffer_limit"] == 0 || len(recs) != flows || st.BufferedBytes != 0 {
		t.Errorf("evicted %v, %d records for %d flows, %d bytes still buffered", st.Evicted, len(recs), flows, st.BufferedBytes)
	}
	for _, h := range recs {
		if h.Outcome != handshake.OutcomeIncomplete || !h.Gap {
			t.Errorf("record %v %v gap %v: want incomplete with a gap", h.Client, h.Outcome, h.Gap)
		}
	}
	t.Logf("peak %d bytes buffered (cap %d), evicted %v", peak, maxBuf, st.Evicted)
}

// TestBufferCapQUICCrypto: a QUIC Initial whose CRYPTO frame sits at offset
// 60000 makes the connection's CRYPTO reassembler hold 61 KB for one
// 1200-byte datagram. Those bytes count against MaxBufferedBytes like TCP
// reassembly's (they used not to count at all: n such connections held
// n × 61 KB, with only the flow limit as a bound), and the heap stays near
// the cap.
func TestBufferCapQUICCrypto(t *testing.T) {
	var pcap bytes.Buffer
	const flows = 400
	if err := hostile.QUICCryptoFlood(flows, 60000)(&pcap); err != nil {
		t.Fatal(err)
	}
	const maxBuf = 1 << 20
	r := runCapped(t, &pcap, maxBuf)
	st := r.tr.Stats()
	if r.peak == 0 {
		t.Errorf("0 bytes buffered at peak: CRYPTO bytes not counted")
	}
	if st.Evicted["buffer_limit"] == 0 {
		t.Errorf("no buffer_limit eviction: %v", st.Evicted)
	}
	if r.heap > 4*maxBuf {
		t.Errorf("heap grew by %d bytes over %d flows with a %d-byte cap", r.heap, flows, maxBuf)
	}
	if st.BufferedBytes != 0 || len(r.recs) != flows {
		t.Errorf("after Flush: %d bytes still buffered, %d records for %d flows", st.BufferedBytes, len(r.recs), flows)
	}
	t.Logf("peak %d bytes buffered (cap %d), heap +%d bytes while tracking, evicted %v", r.peak, maxBuf, r.heap, st.Evicted)
}

// TestBufferCapPartialMessages: a handshake message split across records
// is held until whole (up to 64 KiB). Flows that each send 45 KB of a
// 60 KB ClientHello and stop count those bytes against MaxBufferedBytes,
// like out-of-order bytes (they used not to count: n flows held n × 45 KB).
func TestBufferCapPartialMessages(t *testing.T) {
	var pcap bytes.Buffer
	w, err := hostile.NewWriter(&pcap)
	if err != nil {
		t.Fatal(err)
	}
	pad := append([]byte{0, 21, 0xea, 0x60}, make([]byte, 60000)...) // padding extension, 60000 bytes
	hello := hostile.Records(22, hostile.Hello{SNI: []byte("big.example"), Extensions: [][]byte{pad}}.Message())
	const flows = 300
	for i := 0; i < flows; i++ {
		c, err := w.Open(hostile.Endpoint{IP: [4]byte{10, 1, byte(i >> 8), byte(i)}, Port: 40000}, hostile.Endpoint{IP: [4]byte{192, 0, 2, 1}, Port: 443})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.ClientSend(hello[:45000], 1460); err != nil {
			t.Fatal(err)
		}
	}
	const maxBuf = 1 << 20
	r := runCapped(t, &pcap, maxBuf)
	st := r.tr.Stats()
	if r.peak == 0 || st.Evicted["buffer_limit"] == 0 {
		t.Errorf("peak %d bytes buffered (cap %d), evicted %v", r.peak, maxBuf, st.Evicted)
	}
	if r.heap > 4*maxBuf {
		t.Errorf("heap grew by %d bytes over %d flows with a %d-byte cap", r.heap, flows, maxBuf)
	}
	if st.BufferedBytes != 0 || len(r.recs) != flows {
		t.Errorf("after Flush: %d bytes still buffered, %d records for %d flows", st.BufferedBytes, len(r.recs), flows)
	}
	t.Logf("peak %d bytes buffered (cap %d), heap +%d bytes while tracking, evicted %v", r.peak, maxBuf, r.heap, st.Evicted)
}

// TestBufferCapStateCost: a handshake's state counts against
// MaxBufferedBytes too, so a flood of QUIC Initials that start hellos and
// never finish them is followed only as far as the cap allows: the rest are
// refused (counted as buffer_limit evictions), each Initial either a record
// or a refusal, and the buffered total never passes the cap.
func TestBufferCapStateCost(t *testing.T) {
	var pcap bytes.Buffer
	const flows = 500
	if err := hostile.QUICCryptoFlood(flows, 0)(&pcap); err != nil {
		t.Fatal(err)
	}
	const maxBuf = 64 << 10
	r := runCapped(t, &pcap, maxBuf)
	st := r.tr.Stats()
	refused := st.Evicted["buffer_limit"]
	if r.peakActive == 0 || r.peakActive > maxBuf/(6<<10) {
		t.Errorf("%d handshakes followed at once under a %d-byte cap", r.peakActive, maxBuf)
	}
	if uint64(len(r.recs))+refused != flows || st.BufferedBytes != 0 {
		t.Errorf("%d records + %d refused for %d Initials; %d bytes still buffered", len(r.recs), refused, flows, st.BufferedBytes)
	}
	t.Logf("%d followed at once, %d records, %d refused", r.peakActive, len(r.recs), refused)
}
