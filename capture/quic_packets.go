package capture

// The packets of a QUIC connection in its handshake: coalesced packets,
// Version Negotiation and the client's restart, Initial packets and their
// CRYPTO and CONNECTION_CLOSE frames, Handshake-space and 1-RTT packets.

import (
	"encoding/binary"
	"errors"

	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/quic"
	"github.com/hellowatch/hellowatch/tlsparse"
)

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
	rehello := false
	if side == 0 && c.retried && !c.rekeyed && string(h.DCID) == string(c.retryCID[:c.retryLen]) {
		// RFC 9001 §5.2: after a Retry the client's Initial keys come
		// from the connection ID the server chose.
		if err := c.keys.Derive(c.keys.Version, h.DCID); err != nil {
			t.quicUndecryptable(c)
			return
		}
		c.rekeyed = true
		c.keysLen = copy(c.keysFrom[:], h.DCID)
		// The client sends its ClientHello again after a Retry: a second
		// C in the history, as Zeek writes it.
		rehello = true
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
			if rehello && fr.Offset == 0 {
				a.hist(dir, 'C')
				rehello = false
			}
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
		a.histData(dir)
		c.serverHS = true
		a.h.ServerRecords++
		return
	}
	a.h.ClientRecords++
	if !c.shSeen && !c.serverHS {
		return
	}
	a.histData(dir)
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
