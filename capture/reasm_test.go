package capture

import "testing"

// countSink counts delivered bytes.
type countSink struct{ n int }

func (s *countSink) deliver(dir int, b []byte) bool { s.n += len(b); return true }

// TestReasmTinySegmentsReversed is the regression test for a flood of
// one-byte segments in reverse order behind a hole: each used to be
// inserted at the front of the sorted list (quadratic: 55 s for 400,000
// packets) and charged one byte for some 60 of memory. Held segments are
// now capped and charged their overhead.
func TestReasmTinySegmentsReversed(t *testing.T) {
	var r dirReasm
	r.sync(1000)
	var s countSink
	limit := DefaultMaxFlowBytes
	charged := 0
	for i := 100_000; i > 0; i-- {
		charged += r.add(0, 1000+uint32(i), []byte{byte(i)}, &s, limit)
	}
	if len(r.pending) > maxHeldSegments {
		t.Fatalf("%d segments held, cap %d", len(r.pending), maxHeldSegments)
	}
	if !r.gap {
		t.Fatal("segments past the cap were dropped without marking a gap")
	}
	if charged != r.buffered || r.buffered != len(r.pending)*(1+segmentCost) || r.buffered > limit {
		t.Fatalf("charged %d, buffered %d for %d one-byte segments (limit %d)", charged, r.buffered, len(r.pending), limit)
	}
	// The held segments are the highest sequence numbers (the first sent):
	// the byte at 1000 delivers alone and leaves them held.
	held := len(r.pending)
	r.add(0, 1000, []byte{0}, &s, limit)
	if s.n != 1 || len(r.pending) != held || r.buffered != held*(1+segmentCost) {
		t.Fatalf("after the first byte: delivered %d, %d held, buffered %d", s.n, len(r.pending), r.buffered)
	}
}

// TestReasmChargeMatchesRelease checks that the bytes charged for held
// segments are exactly what draining them gives back.
func TestReasmChargeMatchesRelease(t *testing.T) {
	var r dirReasm
	r.sync(0)
	var s countSink
	charged := 0
	for _, seg := range []struct {
		seq uint32
		n   int
	}{{300, 100}, {100, 50}, {200, 100}, {150, 50}, {100, 50}} {
		charged += r.add(0, seg.seq, make([]byte, seg.n), &s, 1<<20)
	}
	if charged != r.buffered || len(r.pending) != 4 {
		t.Fatalf("charged %d, buffered %d, %d held", charged, r.buffered, len(r.pending))
	}
	r.add(0, 0, make([]byte, 100), &s, 1<<20)
	if r.buffered != 0 || len(r.pending) != 0 || s.n != 400 {
		t.Fatalf("after the hole: buffered %d, %d held, %d delivered", r.buffered, len(r.pending), s.n)
	}
}
