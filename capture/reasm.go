package capture

import "bytes"

// This file is a purpose-built handshake-phase TCP reassembler. It is much
// smaller than gopacket/reassembly because it only ever serves the first few
// kilobytes of a connection: in-order segments are handed to the TLS parser
// straight from the packet buffer (no copy), only segments that arrive ahead
// of a hole are copied, and the whole state is dropped the moment the flow's
// outcome is known.

// segment is a copy of an out-of-order TCP payload.
type segment struct {
	seq  uint32
	data []byte
}

// segmentCost is what holding a segment is charged against the caps on top
// of its bytes: its entry in pending and the copy's allocation header. A
// flood of one-byte segments would otherwise hold some 50 times the
// configured memory while the caps counted only its payload.
const segmentCost = 64

// maxHeldSegments bounds the segments one direction holds. A handshake
// needs a few dozen; the cap keeps the sorted insertion in hold cheap when
// an attacker sends tiny segments in reverse order (quadratic otherwise).
const maxHeldSegments = 1024

// historyCap is how many of the most recently delivered bytes a direction
// keeps, to notice retransmissions that carry different bytes.
const historyCap = 4096

// dirReasm reassembles one direction of a TCP connection.
type dirReasm struct {
	next     uint32 // sequence number of the next byte to deliver
	synced   bool   // next is known (from a SYN or from the first TLS-looking segment)
	sawSYN   bool
	pending  []segment // out-of-order segments, sorted by seq; copies
	buffered int       // bytes held in pending, plus segmentCost per segment

	finSeq  uint32 // sequence number just past the last byte, once a FIN is seen
	finSeen bool

	history []byte // up to historyCap bytes ending at next, for overlap checks

	ambiguous bool // a retransmission disagreed with bytes already seen
	gap       bool // bytes were dropped because of caps: the stream has a hole
	delivered int  // bytes delivered so far
}

// sink receives in-order bytes of one direction. It reports whether it
// wants more (false once the flow is decided).
type sink interface {
	deliver(dir int, b []byte) bool
}

// seqDiff returns a-b as a signed distance, correct across wrap-around.
func seqDiff(a, b uint32) int32 { return int32(a - b) }

// reset clears the direction for reuse, keeping buffer capacity.
func (r *dirReasm) reset() {
	pend := r.pending[:0]
	hist := r.history[:0]
	*r = dirReasm{pending: pend, history: hist}
}

// sync sets the next expected sequence number.
func (r *dirReasm) sync(next uint32) {
	r.next = next
	r.synced = true
}

// add takes one segment. When the direction is synced, in-order bytes are
// delivered to s at once; bytes ahead of a hole are copied into pending, up
// to limit bytes in total for the direction (the rest is counted as a gap).
// It returns the number of bytes newly copied into pending (for the global
// buffer account).
func (r *dirReasm) add(dir int, seq uint32, data []byte, s sink, limit int) (copied int) {
	if len(data) == 0 {
		return 0
	}
	if !r.synced {
		return r.hold(seq, data, limit)
	}
	off := seqDiff(seq, r.next)
	if off > 0 {
		return r.hold(seq, data, limit)
	}
	// The segment starts at or before next: trim what was already delivered.
	old := int(-off)
	if old >= len(data) {
		r.checkOverlap(seq, data)
		return 0
	}
	if old > 0 {
		r.checkOverlap(seq, data[:old])
		data = data[old:]
	}
	if !r.push(dir, data, s) {
		return 0
	}
	r.drain(dir, s)
	return 0
}

// push delivers data (which starts exactly at next) and remembers its tail.
func (r *dirReasm) push(dir int, data []byte, s sink) bool {
	r.next += uint32(len(data))
	r.delivered += len(data)
	r.remember(data)
	return s.deliver(dir, data)
}

// remember keeps the last historyCap delivered bytes.
func (r *dirReasm) remember(data []byte) {
	if len(data) >= historyCap {
		r.history = append(r.history[:0], data[len(data)-historyCap:]...)
		return
	}
	if extra := len(r.history) + len(data) - historyCap; extra > 0 {
		n := copy(r.history, r.history[extra:])
		r.history = r.history[:n]
	}
	r.history = append(r.history, data...)
}

// checkOverlap compares a retransmitted span that ends at or before next
// with the bytes delivered before, when they are still in history.
func (r *dirReasm) checkOverlap(seq uint32, data []byte) {
	back := seqDiff(r.next, seq) // how far before next the span starts
	if back <= 0 || int(back) > len(r.history) {
		return
	}
	start := len(r.history) - int(back)
	n := len(data)
	if start+n > len(r.history) {
		n = len(r.history) - start
	}
	if !bytes.Equal(r.history[start:start+n], data[:n]) {
		r.ambiguous = true
	}
}

// hold copies an out-of-order segment into pending, in seq order. It
// returns what the copy is charged (bytes plus segmentCost), or 0 when the
// segment is a duplicate or over the caps (a gap).
func (r *dirReasm) hold(seq uint32, data []byte, limit int) int {
	if len(r.pending) >= maxHeldSegments {
		r.gap = true
		return 0
	}
	// Find the insertion point; pending is short (a handshake's worth,
	// at most maxHeldSegments).
	i := len(r.pending)
	for i > 0 && seqDiff(r.pending[i-1].seq, seq) > 0 {
		i--
	}
	// An exact duplicate of a held segment: compare and drop.
	if i > 0 && r.pending[i-1].seq == seq {
		p := r.pending[i-1].data
		n := min(len(p), len(data))
		if !bytes.Equal(p[:n], data[:n]) {
			r.ambiguous = true
		}
		if len(data) <= len(p) {
			return 0
		}
	}
	cost := len(data) + segmentCost
	if r.buffered+cost > limit {
		r.gap = true
		return 0
	}
	cp := make([]byte, len(data))
	copy(cp, data)
	r.pending = append(r.pending, segment{})
	copy(r.pending[i+1:], r.pending[i:])
	r.pending[i] = segment{seq: seq, data: cp}
	r.buffered += cost
	return cost
}

// drain delivers pending segments that have become contiguous.
func (r *dirReasm) drain(dir int, s sink) {
	for len(r.pending) > 0 {
		p := r.pending[0]
		off := seqDiff(p.seq, r.next)
		if off > 0 {
			return
		}
		r.pending = r.pending[1:]
		r.buffered -= len(p.data) + segmentCost
		data := p.data
		old := int(-off)
		if old >= len(data) {
			r.checkOverlap(p.seq, data)
			continue
		}
		if old > 0 {
			r.checkOverlap(p.seq, data[:old])
			data = data[old:]
		}
		if !r.push(dir, data, s) {
			return
		}
	}
	if len(r.pending) == 0 {
		r.pending = r.pending[:0:cap(r.pending)]
	}
}

// finReached reports whether every byte before the FIN has been delivered.
func (r *dirReasm) finReached() bool {
	return r.finSeen && (!r.synced || seqDiff(r.finSeq, r.next) <= 0)
}

// hole reports whether bytes are held behind a missing span.
func (r *dirReasm) hole() bool { return len(r.pending) > 0 }

// drainPreamble drops held segments that lie wholly before next (skipped
// plaintext) and, when the next held segment starts exactly at next,
// leaves it for the caller's next add. Used before a ClientHello was found.
func (r *dirReasm) drainPreamble() {
	for len(r.pending) > 0 && seqDiff(r.pending[0].seq+uint32(len(r.pending[0].data)), r.next) <= 0 {
		r.buffered -= len(r.pending[0].data) + segmentCost
		r.pending = r.pending[1:]
	}
}
