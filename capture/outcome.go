package capture

// Outcome decisions: how a handshake ended (a FIN or RST, an alert, a
// timer) and the emission of its record.

import (
	"github.com/hellowatch/hellowatch/handshake"
)

// establish moves a flow to the post-handshake watch.
func (t *Tracker) establish(f *flow) {
	if f.state != stHandshake {
		return
	}
	f.state = stPost
	f.gen++
	t.hsQ.push(timerEntry{f: f, deadline: t.now + int64(t.cfg.PostTimeout), gen: f.gen})
	// The idle entry carried the old generation: re-arm it.
	t.idleQ.push(timerEntry{f: f, deadline: f.lastTS + int64(t.cfg.IdleTimeout), gen: f.gen})
}

// reset handles a RST from direction dir.
func (t *Tracker) reset(f *flow, a *active, dir int) {
	if a.side(dir) == handshake.SideNone {
		if a.helloDir != 0 && dir != a.helloDir-1 && f.syn != 0 {
			// The server's side resets a hello that is not whole yet (an
			// SNI router that decided on the first segment): the rest may
			// still be captured, so the record waits for it; decide or the
			// hello's completion settles the outcome. (Without the
			// connection's SYN, this is the tail of a connection already
			// decided and forgotten, e.g. retransmissions after a RST.)
			a.earlyEnd = earlyRST
			a.earlyEndTS = t.now
			return
		}
		t.remove(f)
		return
	}
	t.ended(f, a, dir, true)
}

// ended handles the end of direction dir's side of the connection, a RST
// or a FIN whose bytes were all delivered: it notes who ended it and
// decides the flow when that settles the handshake. It reports false when
// the FIN was noted before.
func (t *Tracker) ended(f *flow, a *active, dir int, rst bool) bool {
	side := a.side(dir)
	h := &a.h
	switch {
	case side == handshake.SideClient && rst:
		h.ClientRST = true
	case side == handshake.SideServer && rst:
		h.ServerRST = true
	case side == handshake.SideClient:
		if h.ClientFIN {
			return false
		}
		h.ClientFIN = true
	case side == handshake.SideServer:
		if h.ServerFIN {
			return false
		}
		h.ServerFIN = true
	}
	if h.EndedBy == handshake.SideNone {
		h.EndedBy = side
	}
	if side == handshake.SideServer && a.endOfServerBytes(dir) {
		return true
	}
	if side == handshake.SideClient && !rst && a.serverBytes == 0 && t.cur != nil && a.helloEnd == a.h.Packets {
		// The FIN came in the segment that ended the ClientHello: the
		// server has yet to read it, and may still answer.
		return true
	}
	bare := handshake.OutcomeServerClosed
	if rst {
		bare = handshake.OutcomeServerReset
	}
	t.decideEnd(f, a, side, bare, rst)
	return true
}

// decideEnd decides a flow that side ended; bare is the outcome when the
// server did so without any alert before. abrupt is true for a RST (or
// QUIC's CONNECTION_CLOSE without a TLS alert): after the client's FIN the
// server may still answer, after its RST it cannot.
func (t *Tracker) decideEnd(f *flow, a *active, side handshake.Side, bare handshake.Outcome, abrupt bool) {
	switch {
	case f.state == stPost && a.waitAnswer && a.serverAfter > 0 && a.serverAfter <= maxAlertRecord:
		// TLS 1.3: the server's only answer to a flight with a client
		// certificate was an alert-sized record, then it closed.
		t.decide(f, handshake.OutcomeServerAlert)
	case f.state == stPost:
		t.decide(f, handshake.OutcomeEstablished)
	case side == handshake.SideServer:
		t.decide(f, a.serverEndOutcome(bare))
	case a.serverBytes == 0:
		t.decide(f, handshake.OutcomeNoResponse)
	case abrupt:
		t.decide(f, handshake.OutcomeIncomplete)
	}
}

// decideAlert decides a flow on a fatal alert sent by side.
func (t *Tracker) decideAlert(f *flow, side handshake.Side) {
	if side == handshake.SideServer {
		t.decide(f, handshake.OutcomeServerAlert)
	} else {
		t.decide(f, handshake.OutcomeClientAlert)
	}
}

// checkFIN decides a flow once a FIN's direction is fully delivered.
func (t *Tracker) checkFIN(f *flow, a *active) {
	if a.client < 0 {
		if a.helloDir == 0 {
			return
		}
		if a.r[a.helloDir-1].finReached() {
			// The client ends before its ClientHello could be read whole.
			// (A FIN ahead of a hole waits: the rest may still come.)
			t.decide(f, handshake.OutcomeIncomplete)
		} else if a.earlyEnd == 0 && a.r[2-a.helloDir].finSeen {
			// The server's FIN before the hello is whole: wait for the rest.
			a.earlyEnd = earlyFIN
			a.earlyEndTS = t.now
		}
		return
	}
	for dir := 0; dir < 2; dir++ {
		r := &a.r[dir]
		if !r.finReached() || r.finSeq == 0 && !r.finSeen {
			continue
		}
		if !t.ended(f, a, dir, false) {
			continue
		}
		if a.decided {
			return
		}
	}
}

// endOfServerBytes tells the server direction's TLS stream that no more
// bytes will come, so that a short non-TLS answer ("ERR\r\n", fewer bytes
// than the stream waits for before it gives up on TLS) is reported as
// not_tls. It reports whether that decided the flow.
func (a *active) endOfServerBytes(dir int) bool {
	if a.decided || a.client < 0 || dir == a.client {
		return a.decided
	}
	a.st[dir].Close(&a.hd[dir])
	return a.decided
}

// serverEndOutcome names the outcome of a handshake the server ended by
// FIN or RST (bare): an alert sent before, by either side, is the cause.
// The client's alert (plaintext or, as Go's TLS 1.3 certificate rejection,
// encrypted) comes first: the server merely closed in answer to it.
func (a *active) serverEndOutcome(bare handshake.Outcome) handshake.Outcome {
	for i := range a.h.Alerts {
		if a.h.Alerts[i].Sender == handshake.SideClient {
			return handshake.OutcomeClientAlert
		}
	}
	if a.h.FirstServerAlert() != nil {
		return handshake.OutcomeServerAlert
	}
	return bare
}

// decide finishes a flow: the record is emitted and the flow's later
// packets are dropped after one lookup.
func (t *Tracker) decide(f *flow, o handshake.Outcome) {
	a := f.act
	if a == nil || a.decided {
		return
	}
	a.decided = true
	if a.client < 0 && a.helloDir != 0 && !a.helloTentative {
		a.partialHello()
		o = handshake.OutcomeIncomplete
		if a.earlyEnd != 0 && a.serverBytes == 0 {
			// The server ended it before the hello was whole, without a
			// word, and the rest never came. (Server bytes held behind a
			// hole in the hello are an answer the capture cannot read.)
			o = a.earlyOutcome()
		}
	}
	if a.client < 0 {
		f.state = stIgnored
		return
	}
	h := a.h
	h.Outcome = o
	h.EndTime = ts(t.now)
	if t.at != 0 {
		h.EndTime = ts(t.at)
	}
	h.History = string(a.his)
	if f.synackTS != 0 {
		h.SYNACKTime = ts(f.synackTS)
	}
	if h.Gap || a.r[0].gap || a.r[1].gap {
		h.Gap = true
	}
	if o == handshake.OutcomeIncomplete && (a.r[0].hole() || a.r[1].hole()) {
		h.Gap = true
	}
	// A FIN that came with the deciding segment still belongs to the record.
	for dir := range a.r {
		if !a.r[dir].finReached() {
			continue
		}
		side := a.side(dir)
		if side == handshake.SideClient {
			h.ClientFIN = true
		} else {
			h.ServerFIN = true
		}
		if h.EndedBy == handshake.SideNone {
			h.EndedBy = side
		}
	}
	f.state = stDone
	rec := new(handshake.Handshake)
	*rec = h
	if t.cfg.PacketOut != nil && t.cfg.Failed != nil && t.cfg.Failed(rec) {
		f.writeAll = true
		for i := range a.saved {
			t.cfg.PacketOut(&a.saved[i])
		}
	}
	t.handshakes.Add(1)
	if t.cfg.Emit != nil {
		t.cfg.Emit(rec)
	}
}
