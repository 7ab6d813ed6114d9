package capture

// TCP: segments of undecided flows, the search for a ClientHello's first
// bytes, and the in-order bytes handed to the TLS stream parser.

import (
	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/tlsparse"
)

// segment handles one TCP segment of a flow that is not decided yet.
func (t *Tracker) segment(f *flow, dir int, d *Decoded) {
	if d.Flags&tcpSYN != 0 {
		bit := uint8(1) << dir
		if f.syn&bit == 0 {
			f.syn |= bit
			f.isn[dir] = d.Seq + 1
			f.ttl[dir] = d.TTL
			if d.Flags&tcpACK == 0 && f.synTS == 0 {
				f.synTS = t.now
			}
			if d.Flags&tcpACK != 0 && f.synackTS == 0 {
				f.synackTS = t.now
			}
			if f.act != nil && !f.act.r[dir].synced {
				f.act.r[dir].sync(d.Seq + 1)
			}
		}
		d.Seq++
	}
	a := f.act
	if a == nil {
		if len(d.Payload) == 0 && (t.cfg.PacketOut == nil || d.Flags&tcpSYN == 0) {
			if d.Flags&tcpRST != 0 {
				t.remove(f)
			}
			return
		}
		if a = t.acquire(f, 0); a == nil {
			t.refuse(f)
			return
		}
	}
	a.h.Packets++
	a.h.LastPacket = t.cur.Index
	if c := a.client; c >= 0 && dir != c || c < 0 && a.helloDir != 0 && dir != a.helloDir-1 {
		a.serverTTL(dir, d)
	}
	if t.cfg.PacketOut != nil {
		a.save(t.cur)
	}
	r := &a.r[dir]
	if d.Flags&tcpFIN != 0 && !r.finSeen {
		r.finSeen = true
		r.finSeq = d.Seq + uint32(len(d.Payload))
	}
	if len(d.Payload) > 0 {
		t.payload(f, a, dir, d)
	}
	if !a.decided && d.Flags&tcpRST != 0 {
		t.reset(f, a, dir)
	}
	if !a.decided && a.client >= 0 && a.earlyEnd != 0 && f.state == stHandshake {
		// The hello is whole now, after the server's early RST or FIN.
		t.decide(f, a.earlyOutcome())
	}
	if !a.decided && (a.r[0].finSeen || a.r[1].finSeen) {
		t.checkFIN(f, a)
	}
	if a.decided {
		t.release(f)
	}
}

// payload feeds a segment's bytes to the direction's reassembler.
func (t *Tracker) payload(f *flow, a *active, dir int, d *Decoded) {
	r := &a.r[dir]
	if a.client < 0 {
		if !t.seekHello(f, a, dir, d) {
			return
		}
	} else if !r.synced {
		// The server's side without its SYN-ACK: take its first segment.
		r.sync(d.Seq)
	}
	before := r.buffered
	r.add(dir, d.Seq, d.Payload, a, t.cfg.MaxFlowBytes)
	if r.ambiguous && !a.h.Ambiguous {
		a.h.Ambiguous = true
		t.ambiguous.Add(1)
	}
	if r.gap {
		a.h.Gap = true
	}
	t.charge(f, a, r.buffered-before)
}

// charge adds delta bytes newly held by flow f to the global account and,
// when that passes MaxBufferedBytes, gives up on the flow (it is reported
// as incomplete and its buffers are freed by the caller).
func (t *Tracker) charge(f *flow, a *active, delta int) {
	if delta == 0 {
		return
	}
	if t.buffered.Add(int64(delta)) > t.cfg.MaxBufferedBytes && !a.decided {
		t.evicted[EvictBufferLimit].Add(1)
		t.decide(f, handshake.OutcomeIncomplete)
	}
}

// seekHello looks for the start of a ClientHello before one was seen. TLS
// is found by content, not port: the hello may open the connection, follow
// a plaintext preamble (STARTTLS, SOCKS, HTTP CONNECT, PostgreSQL's
// SSLRequest), or be the first thing seen of a connection whose SYN was
// missed. Bytes before it are skipped without a copy; segments ahead of a
// hole are held, so a hello whose segments arrive out of order is still
// found. It reports whether the segment should go to the reassembler.
func (t *Tracker) seekHello(f *flow, a *active, dir int, d *Decoded) bool {
	r := &a.r[dir]
	a.helloSegs++
	if a.helloDir == dir+1 {
		// The rest of a hello whose start was found.
		return true
	}
	if a.helloDir != 0 {
		// The server answers a hello that is not whole yet (its segments
		// arrive out of order, or one was lost): hold the answer until the
		// hello is complete.
		a.serverBytes += len(d.Payload)
		a.lastActivity = t.now
		before := r.buffered
		r.hold(d.Seq, d.Payload, t.cfg.MaxFlowBytes)
		t.charge(f, a, r.buffered-before)
		return false
	}
	if short := tlsparse.MayStartClientHello(d.Payload); short || tlsparse.StartsClientHello(d.Payload) {
		// A first segment of 1-5 bytes (the record header, or less) may
		// start a hello too: followed tentatively, and dropped without a
		// record if what follows is no ClientHello.
		a.helloTentative = short
		// Before a hello nothing was delivered, only skipped, so the hello
		// may also start behind the bytes skipped: a segment that
		// overlaps them with other bytes (seen from clients that send
		// two stray bytes on the handshake's final ACK and then their
		// hello from the same sequence number) is what the server read.
		if r.synced && d.Seq != r.next {
			// A preamble was skipped (or lost): the hello starts here.
			t.buffered.Add(-int64(r.buffered))
			r.buffered = 0
			r.pending = r.pending[:0]
			a.helloSegs = 1
		}
		r.sync(d.Seq)
		a.helloDir = dir + 1
		a.helloTS = t.now
		a.h.FirstPacket = t.cur.Index
		a.noteTunnels(t.curTun)
		if f.state == stNew {
			f.state = stHandshake
			t.hsQ.push(timerEntry{f: f, deadline: t.now + int64(t.cfg.Timeout), gen: f.gen})
		}
		return true
	}
	a.nonHello++
	if a.nonHello > maxNonHelloSegments {
		t.ignore(f)
		return false
	}
	if !r.synced {
		return false
	}
	switch off := seqDiff(d.Seq, r.next); {
	case off == 0:
		// In-order bytes that are not a hello: a plaintext preamble.
		r.next += uint32(len(d.Payload))
		before := r.buffered
		r.drainPreamble()
		t.buffered.Add(int64(r.buffered - before))
		return false
	case off > 0:
		// Ahead of a hole: possibly the rest of a hello whose first segment
		// is late. Hold a copy.
		return true
	}
	return false
}

// deliver implements sink: in-order bytes of direction dir.
func (a *active) deliver(dir int, b []byte) bool {
	t := a.t
	if a.client >= 0 && dir != a.client {
		a.serverBytes += len(b)
		if a.h.FirstAnswerTime.IsZero() {
			a.h.FirstAnswerTime = ts(t.now)
		}
	}
	a.lastActivity = t.now
	if err := a.st[dir].Feed(b, &a.hd[dir]); err != nil && !a.decided {
		if a.client < 0 {
			t.ignore(a.f)
			return false
		}
		if dir == a.client && a.h.ClientHelloTime.IsZero() {
			a.h.ClientHelloError = err.Error()
			t.ignore(a.f)
			return false
		}
	}
	if a.f.act == a && !a.decided {
		// A handshake message split across segments is held until whole
		// (up to 64 KiB): counted like out-of-order bytes.
		if held := a.st[0].Buffered() + a.st[1].Buffered(); held != a.stHeld {
			delta := held - a.stHeld
			a.stHeld = held
			t.charge(a.f, a, delta)
		}
	}
	return !a.decided && a.f.act == a
}

// ignore marks a flow as not TLS (or not a handshake we can follow).
func (t *Tracker) ignore(f *flow) {
	if f.act != nil && (f.act.client >= 0 || f.act.helloDir != 0 && !f.act.helloTentative) {
		// A hello was seen: report what we have rather than drop it.
		t.decide(f, handshake.OutcomeIncomplete)
		return
	}
	f.state = stIgnored
	t.nonTLS.Add(1)
	if f.act != nil {
		// Released by the caller once the parser has returned.
		f.act.decided = true
	}
}
