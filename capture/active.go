package capture

// The state of a flow whose handshake is being followed, and its life:
// acquired when a flow's first payload (or QUIC Initial) arrives, released
// when the flow is decided (docs/ARCHITECTURE.md, "The life of a flow").

import (
	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/tlsparse"
)

// active is the state of a flow whose handshake is being followed. It is
// recycled once the flow is decided, so its buffers are reused.
type active struct {
	t  *Tracker
	f  *flow
	r  [2]dirReasm
	st [2]tlsparse.Stream
	// stHeld is what st holds of incomplete handshake messages, as
	// counted in the tracker's buffered bytes.
	stHeld int
	hd     [2]dirHandler
	h      handshake.Handshake
	his    []byte // history letters

	client        int // dir index of the ClientHello's sender; -1 before the hello
	helloTS       int64
	lastActivity  int64
	serverBytes   int // bytes delivered from the server after the hello
	helloSegs     int
	nonHello      int
	helloDir      int    // 1 + dir in which a ClientHello starts, 0 until found
	helloEnd      uint64 // a.h.Packets when the ClientHello was complete
	sessionID     [32]byte
	sessionIDLen  int
	clientEncRecs int // encrypted records from the client
	tls13         bool
	sslv2         bool // the server answered with an SSLv2 SERVER-HELLO
	sslv2Recs     int  // SSLv2 records from the client after it
	decided       bool
	lastDir       int
	lastCT        [2]tlsparse.ContentType // content type of each direction's current record

	saved      []Packet // -w: copies of the flow's packets so far
	savedBytes int

	quic *quicConn // a QUIC flow's connection state; nil for TCP

	// earlyEnd is set when the server's side sent a RST or FIN before the
	// ClientHello was whole (earlyEndTS is when): the record waits for the
	// rest of the hello, then ends as the server ended it.
	earlyEnd   uint8
	earlyEndTS int64

	// helloTentative is set while a hello "start" is only a short prefix
	// of a handshake record (see seekHello): until the ClientHello is read,
	// the flow is dropped without a record if it turns out to be no hello.
	helloTentative bool

	// waitAnswer (TLS 1.3): the client's flight carried more than its
	// Finished (a certificate), so the record waits for the server's first
	// record after it (serverAfter, its length) before it is decided.
	waitAnswer  bool
	serverAfter int
}

// earlyEnd values.
const (
	earlyRST = 1 + iota
	earlyFIN
)

// earlyOutcome notes the server's early RST or FIN in the record and
// returns its outcome.
func (a *active) earlyOutcome() handshake.Outcome {
	h := &a.h
	if h.EndedBy == handshake.SideNone {
		h.EndedBy = handshake.SideServer
	}
	if h.FirstAnswerTime.IsZero() {
		h.FirstAnswerTime = ts(a.earlyEndTS)
	}
	if a.earlyEnd == earlyRST {
		h.ServerRST = true
		return a.serverEndOutcome(handshake.OutcomeServerReset)
	}
	h.ServerFIN = true
	return a.serverEndOutcome(handshake.OutcomeServerClosed)
}

// acquire gives f its handshake state, or returns nil when extra more
// bytes besides the state's own cost would not fit under MaxBufferedBytes.
func (t *Tracker) acquire(f *flow, extra int64) *active {
	if t.buffered.Load()+activeCost+extra > t.cfg.MaxBufferedBytes {
		return nil
	}
	t.buffered.Add(activeCost)
	var a *active
	if n := len(t.free); n > 0 {
		a = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		a = &active{t: t}
	}
	a.f = f
	a.client = -1
	a.lastDir = -1
	a.hd[0] = dirHandler{a: a, dir: 0}
	a.hd[1] = dirHandler{a: a, dir: 1}
	for dir := range a.r {
		if f.syn&(1<<dir) != 0 {
			a.r[dir].sync(f.isn[dir])
			a.r[dir].sawSYN = true
		}
	}
	if f.synTS != 0 {
		a.h.SYNTime = ts(f.synTS)
	}
	f.act = a
	t.active.Add(1)
	return a
}

// release returns the flow's active state to the free list.
func (t *Tracker) release(f *flow) {
	a := f.act
	if a == nil {
		return
	}
	f.act = nil
	t.quicRelease(a)
	t.active.Add(-1)
	t.buffered.Add(-int64(activeCost + a.r[0].buffered + a.r[1].buffered + a.stHeld))
	for i := range a.r {
		a.r[i].reset()
		a.st[i].Reset()
	}
	saved := a.saved[:0]
	for i := range a.saved {
		a.saved[i] = Packet{}
	}
	his := a.his[:0]
	*a = active{t: t, saved: saved, his: his, r: a.r, st: a.st}
	if len(t.free) < 4096 {
		t.free = append(t.free, a)
	}
}

// side maps a dir index to client or server (before the hello: none).
func (a *active) side(dir int) handshake.Side {
	switch {
	case a.client < 0:
		return handshake.SideNone
	case dir == a.client:
		return handshake.SideClient
	default:
		return handshake.SideServer
	}
}

// save keeps a copy of a packet for -w until the flow is decided.
func (a *active) save(p *Packet) {
	if p == nil || len(a.saved) >= maxSavedPackets || a.savedBytes+len(p.Data) > maxSavedBytes {
		return
	}
	cp := *p
	cp.Data = append([]byte(nil), p.Data...)
	a.saved = append(a.saved, cp)
	a.savedBytes += len(cp.Data)
}
