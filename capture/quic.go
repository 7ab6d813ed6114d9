package capture

import (
	"sync/atomic"

	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/quic"
)

// QUIC handshakes are followed on any UDP port, found by content: a long
// header of a known version holding an Initial packet that authenticates
// with the keys derived from its own Destination Connection ID (RFC 9001
// §5.2). Only Initial packets are decrypted; Handshake and 1-RTT packets
// are only counted, and once a connection is decided its later packets
// cost the flow table lookup of Tracker.Packet.
//
// A QUIC connection uses the tracker's flow table (flowKey with proto 17),
// timers and records; its QUIC-only state (keys, CRYPTO reassembly) lives
// in quicConn, recycled like active. History letters: the TLS message
// letters for messages read from CRYPTO frames (C, S, J for a
// HelloRetryRequest), L for a CONNECTION_CLOSE, Q for Handshake-space
// (encrypted) packets, V for a Retry (the QUIC cousin of DTLS's
// HelloVerifyRequest) and N for a Version Negotiation; lower case = server.

// maxQUICReason caps the reason phrase kept from a CONNECTION_CLOSE.
const maxQUICReason = 256

// maxVNVersions caps the versions kept from a Version Negotiation packet.
const maxVNVersions = 16

// quicTracker is the tracker's QUIC state.
type quicTracker struct {
	free  []*quicConn
	hdr   quic.Header
	fr    quic.Frame
	plain []byte // decrypted payloads; 64 KiB, never grown

	undecryptable atomic.Uint64
}

// quicConn is the QUIC state of a flow in its handshake.
type quicConn struct {
	keys     quic.InitialKeys
	keysFrom [quic.MaxCIDLen]byte // the DCID the keys were derived from
	keysLen  int
	odcid    [quic.MaxCIDLen]byte
	odcidLen int
	retried  bool
	rekeyed  bool
	retryCID [quic.MaxCIDLen]byte
	retryLen int

	client   int // dir of the client
	crypto   [2]quic.CryptoStream
	parsed   [2]int   // bytes of each side's CRYPTO stream consumed as messages
	largest  [2]int64 // largest Initial packet number per side
	chDone   bool
	shSeen   bool
	serverHS bool
	// vnAt is the packet time of the server's Version Negotiation (0: none);
	// restarted is set once the client started over after it.
	vnAt      int64
	restarted bool
	// charged is what the CRYPTO reassemblers hold, as counted in the
	// tracker's buffered bytes (MaxBufferedBytes).
	charged int
	info    *handshake.QUICInfo
}

// sideIdx is 0 for the client's packets and 1 for the server's.
func (c *quicConn) sideIdx(dir int) int {
	if dir == c.client {
		return 0
	}
	return 1
}

func (c *quicConn) reset() {
	cs := c.crypto
	for i := range cs {
		cs[i].Reset()
	}
	*c = quicConn{crypto: cs}
}

// QUICUndecryptable returns the number of packets that looked like QUIC
// Initial packets but did not authenticate (or were malformed): those of
// no known connection plus those counted in a record's
// handshake.QUICInfo.Undecryptable. It is TrackerStats.QUICUndecryptable.
func (t *Tracker) QUICUndecryptable() uint64 { return t.quic.undecryptable.Load() }

// quicUndecryptable counts a packet of connection c that did not decrypt,
// in its record and in the tracker's total.
func (t *Tracker) quicUndecryptable(c *quicConn) {
	c.info.Undecryptable++
	t.quic.undecryptable.Add(1)
}

// quicPacket handles a UDP datagram of a flow that is not decided yet (f
// is nil when the 4-tuple has no entry).
func (t *Tracker) quicPacket(f *flow, k flowKey, dir int, p *Packet, d *Decoded) {
	var c *quicConn
	if f != nil && f.act != nil {
		c = f.act.quic
	}
	if c == nil {
		if !quic.LooksLikeInitial(d.Payload) {
			t.skipped[int(SkipNotTCPUDP)%len(t.skipped)].Add(1)
			return
		}
		if t.buffered.Load()+activeCost+quicCost > t.cfg.MaxBufferedBytes {
			// No room for another connection: refused before its keys
			// are derived (under a flood of Initials that is most of the
			// cost), and without a table entry; each such Initial counts.
			t.evicted[EvictBufferLimit].Add(1)
			return
		}
		c = t.quicProbe(d.Payload, true)
		if c == nil {
			return
		}
		if f == nil {
			f = t.newFlow(k)
		}
		if !t.quicStart(f, c, dir, p) {
			return
		}
	}
	t.quicHandle(f, c, dir, p, d)
}

// quicHandle handles a datagram of f, a QUIC flow in its handshake.
func (t *Tracker) quicHandle(f *flow, c *quicConn, dir int, p *Packet, d *Decoded) {
	a := f.act
	f.lastTS = t.now
	t.cur = p
	a.h.Packets++
	a.h.LastPacket = p.Index
	if t.cfg.PacketOut != nil {
		a.save(p)
	}
	t.quicDatagram(f, a, c, dir, d.Payload)
	t.cur = nil
	if a.decided {
		t.release(f)
	}
}

// quicProbe tells whether b starts with a client Initial that
// authenticates with the keys of its own DCID, and returns the new
// connection's state if so. count says whether a packet that does not is
// counted as undecryptable.
func (t *Tracker) quicProbe(b []byte, count bool) *quicConn {
	q := &t.quic
	h := &q.hdr
	if err := quic.ParseHeader(b, h); err != nil || h.Type != quic.PacketInitial || len(h.DCID) < 1 {
		if count {
			q.undecryptable.Add(1)
		}
		return nil
	}
	var c *quicConn
	if n := len(q.free); n > 0 {
		c = q.free[n-1]
		q.free = q.free[:n-1]
	} else {
		c = new(quicConn)
	}
	if q.plain == nil {
		q.plain = make([]byte, 0, 1<<16)
	}
	if err := c.keys.Derive(h.Version, h.DCID); err != nil {
		t.quicFree(c)
		return nil
	}
	if _, _, err := c.keys.Client.Open(q.plain, b, h, -1); err != nil {
		// Not QUIC, a server's Initial (its keys need the client's DCID),
		// or a client Initial after the first (its DCID is the server's).
		if count {
			q.undecryptable.Add(1)
		}
		t.quicFree(c)
		return nil
	}
	c.keysLen = copy(c.keysFrom[:], h.DCID)
	c.odcidLen = copy(c.odcid[:], h.DCID)
	c.largest = [2]int64{-1, -1}
	c.info = &handshake.QUICInfo{
		Version: h.Version,
		DCID:    append([]byte(nil), h.DCID...),
	}
	return c
}

// cidHash is FNV-1a of a connection ID: flow.qcid.
func cidHash(cid []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, b := range cid {
		h = (h ^ uint64(b)) * 1099511628211
	}
	return h
}

// quicReused handles an Initial on the decided flow f when it opens a new
// connection on the same 4-tuple (an HTTP/3 client's shared UDP socket):
// its DCID is not the decided connection's and it authenticates as a
// client's first Initial under that DCID's keys (a late Initial of the old
// connection carries the old DCID, or the server's, whose keys do not open
// it). The decided flow then makes way for the new one. It reports whether
// it took the packet.
func (t *Tracker) quicReused(f *flow, k flowKey, dir int, p *Packet, d *Decoded) bool {
	h := &t.quic.hdr
	if quic.ParseHeader(d.Payload, h) != nil || cidHash(h.DCID) == f.qcid {
		return false
	}
	c := t.quicProbe(d.Payload, false)
	if c == nil {
		return false
	}
	t.remove(f)
	f = t.newFlow(k)
	if t.quicStart(f, c, dir, p) {
		t.quicHandle(f, c, dir, p, d)
	}
	return true
}

// quicStart makes f a QUIC flow in its handshake with c as its state: the
// sender of the first authenticated Initial is the client.
// It reports false, having refused f, when the state would not fit under
// MaxBufferedBytes.
func (t *Tracker) quicStart(f *flow, c *quicConn, dir int, p *Packet) bool {
	a := f.act
	if a == nil {
		if a = t.acquire(f, quicCost); a == nil {
			t.refuse(f)
			t.quicFree(c)
			return false
		}
	}
	t.buffered.Add(quicCost)
	a.quic = c
	f.qcid = cidHash(c.odcid[:c.odcidLen])
	c.client = dir
	a.client = dir
	a.helloTS = t.now
	a.lastActivity = t.now
	f.state = stHandshake
	t.hsQ.push(timerEntry{f: f, deadline: t.now + int64(t.cfg.Timeout), gen: f.gen})
	t.tlsFlows.Add(1)
	h := &a.h
	h.Transport = handshake.TransportQUIC
	h.Client = f.key.endpoint(dir)
	h.Server = f.key.endpoint(1 - dir)
	h.ClientHelloTime = ts(t.now)
	h.FirstPacket = p.Index
	h.QUIC = c.info
	a.noteTunnels(t.curTun)
	// Replaced when the ClientHello is read whole.
	h.ClientHelloError = "quic: ClientHello incomplete: CRYPTO frames are missing from the capture"
	return true
}

// quicFree returns c to the free list.
func (t *Tracker) quicFree(c *quicConn) {
	c.reset()
	if len(t.quic.free) < 1024 {
		t.quic.free = append(t.quic.free, c)
	}
}

// quicRelease returns a's QUIC state to the free list; release calls it,
// so that releasing a flow releases its QUIC connection.
func (t *Tracker) quicRelease(a *active) {
	c := a.quic
	if c == nil {
		return
	}
	a.quic = nil
	t.buffered.Add(-int64(quicCost + c.charged))
	t.quicFree(c)
}
