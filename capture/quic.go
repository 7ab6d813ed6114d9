package capture

import (
	"encoding/binary"
	"errors"
	"sync/atomic"

	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/quic"
	"github.com/hellowatch/hellowatch/tlsparse"
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

// quicDatagram walks the coalesced packets of one datagram (RFC 9000 §12.2).
func (t *Tracker) quicDatagram(f *flow, a *active, c *quicConn, dir int, b []byte) {
	q := &t.quic
	side := c.sideIdx(dir)
	if side == 1 {
		a.serverBytes += len(b)
		if a.h.FirstAnswerTime.IsZero() {
			a.h.FirstAnswerTime = ts(t.now)
		}
	}
	a.lastActivity = t.now
	for len(b) > 0 && !a.decided {
		h := &q.hdr
		err := quic.ParseHeader(b, h)
		if h.Type == quic.PacketShort {
			t.quicShort(f, a, side)
			return
		}
		if err != nil {
			if len(b) < 20 && allZero(b) {
				return // padding after the last packet (not a packet)
			}
			t.quicUndecryptable(c)
			return
		}
		switch h.Type {
		case quic.PacketVersionNegotiation:
			t.quicVersionNegotiation(a, c, dir, side, h)
			return
		case quic.PacketRetry:
			if side == 1 && !c.retried && quic.VerifyRetry(b, h, c.odcid[:c.odcidLen]) {
				c.retried = true
				c.retryLen = copy(c.retryCID[:], h.SCID)
				c.info.Retry = true
				c.info.RetryDCID = append([]byte(nil), h.SCID...)
				a.hist(dir, 'V')
			} else {
				t.quicUndecryptable(c)
			}
			return
		case quic.PacketInitial:
			t.quicInitial(f, a, c, dir, side, b[:h.PacketLen])
		case quic.PacketHandshake:
			t.quicHandshakeSpace(f, a, c, dir, side)
		}
		b = b[h.PacketLen:]
	}
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// quicVersionNegotiation records the server's Version Negotiation packet.
// RFC 9000 §6.2: one sent after the server's Initial, or one that lists the
// version the client chose, is not a refusal (a client discards it).
func (t *Tracker) quicVersionNegotiation(a *active, c *quicConn, dir, side int, h *quic.Header) {
	if side != 1 || c.vnAt != 0 || c.info.ServerInitials > 0 {
		return
	}
	var names []quic.Version
	for v := h.Versions; len(v) >= 4; v = v[4:] {
		qv := quic.Version(binary.BigEndian.Uint32(v))
		if qv == c.keys.Version {
			t.quicUndecryptable(c)
			return
		}
		if len(names) < maxVNVersions {
			names = append(names, qv)
		}
	}
	c.vnAt = t.now
	t.hsQ.push(timerEntry{f: a.f, deadline: t.now + int64(t.cfg.PostTimeout), gen: a.f.gen})
	c.info.VersionNegotiation = true
	c.info.RejectedVersion = c.info.Version
	c.info.ServerVersions = names
	c.info.VNPacket = t.cur.Index
	a.hist(dir, 'N')
}

// quicRefusedVersion reports whether the server's only answer on f was a
// Version Negotiation that the client did not follow, and when it came.
func (t *Tracker) quicRefusedVersion(f *flow) (int64, bool) {
	if f.act == nil {
		return 0, false
	}
	c := f.act.quic
	if c == nil || c.vnAt == 0 || c.restarted {
		return 0, false
	}
	return c.vnAt, true
}

// quicRestart tries the client's Initial in a new version after the
// server's Version Negotiation: a compatible client starts over on the same
// 4-tuple with a new DCID (RFC 9000 §6.2). It reports whether the packet
// authenticates with the new version's keys, which then replace the old.
func (t *Tracker) quicRestart(f *flow, c *quicConn, pkt []byte, h *quic.Header) bool {
	old := c.keys
	if c.keys.Derive(h.Version, h.DCID) != nil {
		c.keys = old
		return false
	}
	if _, _, err := c.keys.Client.Open(t.quic.plain, pkt, h, -1); err != nil {
		c.keys = old
		return false
	}
	c.restarted = true
	f.qcid = cidHash(h.DCID)
	c.keysLen = copy(c.keysFrom[:], h.DCID)
	c.odcidLen = copy(c.odcid[:], h.DCID)
	c.retried, c.rekeyed, c.retryLen = false, false, 0
	c.largest = [2]int64{-1, -1}
	for i := range c.crypto {
		c.crypto[i].Reset()
	}
	c.parsed = [2]int{}
	c.info.Version = h.Version
	c.info.DCID = append(c.info.DCID[:0:0], h.DCID...)
	return true
}

// quicInitial opens one Initial packet and handles its frames.
func (t *Tracker) quicInitial(f *flow, a *active, c *quicConn, dir, side int, pkt []byte) {
	q := &t.quic
	h := &q.hdr
	if side == 0 && c.vnAt != 0 && !c.restarted && h.Version != c.keys.Version && !t.quicRestart(f, c, pkt, h) {
		t.quicUndecryptable(c)
		return
	}
	if side == 0 && c.retried && !c.rekeyed && string(h.DCID) == string(c.retryCID[:c.retryLen]) {
		// RFC 9001 §5.2: after a Retry the client's Initial keys come
		// from the connection ID the server chose.
		if err := c.keys.Derive(c.keys.Version, h.DCID); err != nil {
			t.quicUndecryptable(c)
			return
		}
		c.rekeyed = true
		c.keysLen = copy(c.keysFrom[:], h.DCID)
	}
	keys := &c.keys.Client
	if side == 1 {
		keys = &c.keys.Server
	}
	payload, pn, err := keys.Open(q.plain, pkt, h, c.largest[side])
	if err != nil {
		t.quicUndecryptable(c)
		return
	}
	c.largest[side] = max(c.largest[side], pn)
	if side == 0 {
		c.info.ClientInitials++
	} else {
		c.info.ServerInitials++
	}
	fr := &q.fr
	crypto := false
	for len(payload) > 0 {
		rest, err := quic.NextFrame(payload, fr)
		if err != nil {
			t.quicUndecryptable(c)
			break
		}
		payload = rest
		switch fr.Type {
		case quic.FrameCrypto:
			crypto = true
			// A frame far into the stream makes the reassembler hold
			// everything up to it: counted like TCP's held segments, and
			// before it is held, so that a flow over MaxBufferedBytes is
			// let go without the allocation.
			cs := &c.crypto[side]
			if end := fr.Offset + uint64(len(fr.Data)); end > uint64(cs.Buffered()) && end <= quic.DefaultCryptoLimit {
				grow := int(end) - cs.Buffered()
				c.charged += grow
				t.charge(f, a, grow)
				if a.decided {
					return
				}
			}
			if err := cs.Add(fr.Offset, fr.Data); errors.Is(err, quic.ErrCryptoConflict) && !a.h.Ambiguous {
				a.h.Ambiguous = true
				t.ambiguous.Add(1)
			}
			if held := c.crypto[0].Buffered() + c.crypto[1].Buffered(); held != c.charged {
				// A frame Add refused: give back what it was charged.
				t.buffered.Add(int64(held - c.charged))
				c.charged = held
			}
		case quic.FrameConnectionClose, quic.FrameApplicationClose:
			t.quicClose(f, a, c, dir, side, fr)
			if a.decided {
				return
			}
		}
	}
	if crypto {
		if side == 0 && !c.chDone {
			a.helloSegs++
		}
		t.quicMessages(a, c, dir, side)
	}
}

// quicMessages reads the handshake messages completed in a side's CRYPTO
// stream.
func (t *Tracker) quicMessages(a *active, c *quicConn, dir, side int) {
	s := c.crypto[side].Contiguous()
	for c.parsed[side] < len(s) {
		typ, body, _, err := tlsparse.ParseHandshake(s[c.parsed[side]:])
		if errors.Is(err, tlsparse.ErrIncomplete) {
			return
		}
		if err != nil {
			if side == 0 && !c.chDone {
				a.h.ClientHelloError = err.Error()
			}
			c.parsed[side] = len(s) + quic.DefaultCryptoLimit // stop reading this side
			return
		}
		c.parsed[side] += 4 + len(body)
		if side == 0 {
			t.quicClientMessage(a, c, dir, typ, body)
		} else {
			t.quicServerMessage(a, c, dir, typ, body)
		}
	}
}

func (t *Tracker) quicClientMessage(a *active, c *quicConn, dir int, typ tlsparse.HandshakeType, body []byte) {
	a.hist(dir, historyLetter(typ))
	if typ != tlsparse.HandshakeClientHello || c.chDone {
		return
	}
	c.chDone = true
	h := &a.h
	h.ClientHelloError = ""
	h.HelloLen = len(body)
	h.HelloSegments = a.helloSegs
	c.info.HelloPackets = a.helloSegs
	a.parseClientHello(body)
	if h.ClientHelloError != "" {
		return
	}
	// JA4's first letter is the transport: q for QUIC.
	ch := &t.ch
	b := ch.JA4With(t.buf[:0], 'q', true, false)
	h.JA4 = string(b)
	b = ch.JA4With(b[:0], 'q', false, false)
	h.JA4R = string(b)
	t.buf = b[:0]
}

func (t *Tracker) quicServerMessage(a *active, c *quicConn, dir int, typ tlsparse.HandshakeType, body []byte) {
	if typ != tlsparse.HandshakeServerHello {
		a.hist(dir, historyLetter(typ))
		return
	}
	if sh := a.serverHelloMessage(dir, body); sh != nil && !c.shSeen {
		c.shSeen = true
		a.serverHello(sh)
	}
}

// quicClose handles a CONNECTION_CLOSE read from an Initial packet. A TLS
// alert carried as 0x0100+alert is recorded as a fatal alert, so that the
// findings of TLS over TCP apply unchanged.
func (t *Tracker) quicClose(f *flow, a *active, c *quicConn, dir, side int, fr *quic.Frame) {
	s := handshake.SideClient
	if side == 1 {
		s = handshake.SideServer
	}
	if c.info.Close == nil {
		reason := fr.Reason
		if len(reason) > maxQUICReason {
			reason = reason[:maxQUICReason]
		}
		c.info.Close = &handshake.QUICClose{
			Sender: s, Code: fr.ErrorCode, Application: fr.IsApplicationClose(),
			FrameType: fr.ClosingFrame, Reason: string(reason), Packet: t.cur.Index,
		}
	}
	a.hist(dir, 'L')
	if a.h.EndedBy == handshake.SideNone {
		a.h.EndedBy = s
	}
	if alert, ok := fr.TLSAlert(); ok {
		a.addAlert(handshake.AlertRecord{
			Sender: s, Level: tlsparse.AlertLevelFatal, Description: tlsparse.AlertDescription(alert),
			Packet: t.cur.Index, Time: ts(t.now),
		})
		t.decideAlert(f, s)
		return
	}
	t.decideEnd(f, a, s, handshake.OutcomeServerClosed, true)
}

// quicHandshakeSpace counts a Handshake packet (encrypted with keys from
// the key exchange). The handshake is established once the client sends
// one after the ServerHello: it carries the client's Finished (or its
// acknowledgement of the server's flight).
func (t *Tracker) quicHandshakeSpace(f *flow, a *active, c *quicConn, dir, side int) {
	if side == 1 {
		if n := len(a.his); !c.serverHS || n == 0 || a.his[n-1] != 'q' {
			a.hist(dir, 'Q')
		}
		c.serverHS = true
		a.h.ServerRecords++
		return
	}
	a.h.ClientRecords++
	if !c.shSeen && !c.serverHS {
		return
	}
	if n := len(a.his); n == 0 || a.his[n-1] != 'Q' {
		a.hist(dir, 'Q')
	}
	if f.state == stHandshake {
		t.establish(f)
	}
}

// quicShort counts a 1-RTT packet: the client's first one after the
// handshake is its application data (an HTTP/3 request or its control
// streams).
func (t *Tracker) quicShort(f *flow, a *active, side int) {
	if side == 1 {
		a.h.ServerAppData++
		return
	}
	a.h.ClientAppData++
	if f.state == stPost {
		a.h.ClientDataSent = true
		t.decide(f, handshake.OutcomeEstablished)
	}
}
