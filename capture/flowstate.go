package capture

import (
	"slices"

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
	helloDir      int // 1 + dir in which a ClientHello starts, 0 until found
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
}

// dirHandler receives the tlsparse events of one direction.
type dirHandler struct {
	a   *active
	dir int
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

// segment handles one TCP segment of a flow that is not decided yet.
func (t *Tracker) segment(f *flow, dir int, d *Decoded) {
	if d.Flags&tcpSYN != 0 {
		bit := uint8(1) << dir
		if f.syn&bit == 0 {
			f.syn |= bit
			f.isn[dir] = d.Seq + 1
			if d.Flags&tcpACK == 0 && f.synTS == 0 {
				f.synTS = t.now
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
	if looksLikeHelloStart(d.Payload) && (!r.synced || seqDiff(d.Seq, r.next) >= 0) {
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

// looksLikeHelloStart reports whether b starts with a TLS handshake record
// holding a ClientHello, or an SSLv2-compatible ClientHello.
func looksLikeHelloStart(b []byte) bool {
	if len(b) >= 6 && b[0] == 22 && b[1] == 3 && b[2] <= 4 && b[5] == 1 {
		return true
	}
	// Empty handshake records in front of the hello (RFC 8446 forbids
	// them, but servers may accept them): a client must not hide its hello
	// behind a few.
	if len(b) >= 11 && b[0] == 22 && b[1] == 3 && b[2] <= 4 && b[3] == 0 && b[4] == 0 {
		for i := 0; i < maxEmptyRecords && len(b) >= 11 && b[0] == 22 && b[1] == 3 && b[2] <= 4 && b[3] == 0 && b[4] == 0; i++ {
			b = b[5:]
		}
		return len(b) >= 6 && b[0] == 22 && b[1] == 3 && b[2] <= 4 && b[5] == 1
	}
	// SSLv2 header: 2-byte length with the high bit set, then msg type 1 and
	// a version 0x0002 or 0x03xx.
	return len(b) >= 5 && b[0]&0x80 != 0 && b[2] == 1 && (b[3] == 3 || (b[3] == 0 && b[4] == 2))
}

// maxEmptyRecords is how many empty handshake records may precede a
// ClientHello (OpenSSL allows 32 empty records in a row).
const maxEmptyRecords = 32

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
	if f.act != nil && (f.act.client >= 0 || f.act.helloDir != 0) {
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

// hist appends a history letter: upper case for the client, lower for the
// server; '^' marks nothing here (the client is always the hello's sender).
func (a *active) hist(dir int, c byte) {
	if len(a.his) >= 64 {
		return
	}
	if a.side(dir) == handshake.SideServer {
		c = c | 0x20
	}
	a.his = append(a.his, c)
}

// Zeek's ssl_history letters for handshake message types.
func historyLetter(t tlsparse.HandshakeType) byte {
	switch t {
	case tlsparse.HandshakeHelloRequest:
		return 'H'
	case tlsparse.HandshakeClientHello:
		return 'C'
	case tlsparse.HandshakeServerHello:
		return 'S'
	case tlsparse.HandshakeHelloVerifyRequest:
		return 'V'
	case tlsparse.HandshakeNewSessionTicket:
		return 'T'
	case tlsparse.HandshakeCertificate:
		return 'X'
	case tlsparse.HandshakeServerKeyExchange:
		return 'K'
	case tlsparse.HandshakeCertificateRequest:
		return 'R'
	case tlsparse.HandshakeServerHelloDone:
		return 'N'
	case tlsparse.HandshakeCertificateVerify:
		return 'Y'
	case tlsparse.HandshakeClientKeyExchange:
		return 'G'
	case tlsparse.HandshakeFinished:
		return 'F'
	case tlsparse.HandshakeCertificateURL:
		return 'W'
	case tlsparse.HandshakeCertificateStatus:
		return 'U'
	case tlsparse.HandshakeSupplementalData:
		return 'A'
	case tlsparse.HandshakeEndOfEarlyData:
		return 'E'
	case tlsparse.HandshakeEncryptedExtensions:
		return 'O'
	case tlsparse.HandshakeKeyUpdate:
		return 'P'
	case tlsparse.HandshakeMessageHash:
		return 'M'
	}
	return 'Z'
}

// Record implements tlsparse.Handler.
func (h *dirHandler) Record(ct tlsparse.ContentType, v tlsparse.Version, length int) {
	a := h.a
	if a.decided {
		return
	}
	a.lastCT[h.dir] = ct
	switch a.side(h.dir) {
	case handshake.SideNone:
		if ct != tlsparse.ContentTypeHandshake {
			// Mid-session TLS or something else: no handshake to follow.
			a.t.ignore(a.f)
		}
		return
	case handshake.SideClient:
		a.h.ClientRecords++
	case handshake.SideServer:
		a.h.ServerRecords++
	}
}

// Handshake implements tlsparse.Handler.
func (h *dirHandler) Handshake(typ tlsparse.HandshakeType, body []byte) {
	a := h.a
	if a.decided {
		return
	}
	t := a.t
	if a.client < 0 {
		if typ != tlsparse.HandshakeClientHello {
			t.ignore(a.f)
			return
		}
		a.clientHello(h.dir, body)
		return
	}
	if h.dir == a.client {
		a.hist(h.dir, historyLetter(typ))
		return
	}
	switch typ {
	case tlsparse.HandshakeServerHello:
		sh := &t.sh
		if err := tlsparse.ParseServerHello(body, sh); err != nil {
			a.hist(h.dir, 'S')
			return
		}
		if sh.IsHRR {
			a.h.HRR = true
			a.hist(h.dir, 'J')
			return
		}
		a.hist(h.dir, 'S')
		a.serverHello(sh)
	case tlsparse.HandshakeCertificate:
		a.hist(h.dir, 'X')
		if a.h.Cert == nil {
			cs := &t.cs
			if err := tlsparse.ParseCertificate(body, cs); err == nil {
				c := &handshake.Certificate{
					Subject: cs.Subject, Issuer: cs.Issuer,
					SANs:      slices.Clone(cs.SANs),
					NotBefore: cs.NotBefore, NotAfter: cs.NotAfter, ChainLen: cs.ChainLen,
				}
				if cs.ParseError != nil {
					c.ParseError = cs.ParseError.Error()
				}
				a.h.Cert = c
			}
		}
	default:
		a.hist(h.dir, historyLetter(typ))
	}
}

// partialHello makes a record for a ClientHello whose start was seen but
// whose rest never arrived (segments missing from the capture).
func (a *active) partialHello() {
	t := a.t
	dir := a.helloDir - 1
	a.client = dir
	t.tlsFlows.Add(1)
	h := &a.h
	h.Transport = handshake.TransportTCP
	h.Client = a.f.key.endpoint(dir)
	h.Server = a.f.key.endpoint(1 - dir)
	h.ClientHelloTime = ts(a.helloTS)
	h.HelloSegments = a.helloSegs
	h.ClientHelloError = "tlsparse: ClientHello incomplete: segments are missing from the capture"
	h.Gap = true
	if a.serverBytes > 0 && h.FirstAnswerTime.IsZero() {
		h.FirstAnswerTime = ts(a.lastActivity)
	}
	a.hist(dir, 'C')
}

// clientHello records the facts of the ClientHello sent in direction dir.
func (a *active) clientHello(dir int, body []byte) {
	t := a.t
	a.client = dir
	a.f.state = stHandshake
	if a.helloDir == 0 || a.helloTS == 0 {
		a.helloTS = t.now
		a.h.FirstPacket = t.cur.Index
	}
	a.lastActivity = t.now
	t.tlsFlows.Add(1)
	h := &a.h
	h.Transport = handshake.TransportTCP
	h.Client = a.f.key.endpoint(dir)
	h.Server = a.f.key.endpoint(1 - dir)
	h.ClientHelloTime = ts(a.helloTS)
	h.HelloLen = len(body)
	h.HelloSegments = max(a.helloSegs, 1)
	a.hist(dir, 'C')
	t.hsQ.push(timerEntry{f: a.f, deadline: t.now + int64(t.cfg.Timeout), gen: a.f.gen})

	a.parseClientHello(body)
	// The server's answer that arrived before the hello was whole.
	if ro := &a.r[1-dir]; len(ro.pending) > 0 {
		a.serverBytes = 0
		if !ro.synced {
			ro.sync(ro.pending[0].seq)
		}
		before := ro.buffered
		ro.drain(1-dir, a)
		t.buffered.Add(int64(ro.buffered - before))
	}
}

// parseClientHello copies the ClientHello's facts into the record.
func (a *active) parseClientHello(body []byte) {
	t := a.t
	h := &a.h
	ch := &t.ch
	if err := tlsparse.ParseClientHello(body, ch); err != nil {
		h.ClientHelloError = err.Error()
		return
	}
	h.ClientLegacyVer = ch.LegacyVersion
	if len(ch.ServerNames) > 0 && ch.HasSNI {
		h.HasSNI = true
		h.ServerName = string(ch.ServerNames[0])
		h.SNIIsIP = ch.SNIIsIP
		h.SNIInvalid = ch.SNIInvalid || ch.SNIEmpty
	}
	h.ClientVersions = ch.OfferedVersions(nil)
	for _, p := range ch.ALPN {
		h.ALPN = append(h.ALPN, string(p))
	}
	h.CipherCount = len(ch.CipherSuites)
	h.SessionIDLen = len(ch.SessionID)
	a.sessionIDLen = copy(a.sessionID[:], ch.SessionID)
	h.OffersPSK = ch.HasPSK
	h.OffersTicket = ch.HasSessionTicket && len(ch.SessionTicket) > 0
	h.OffersSession = h.OffersPSK || h.OffersTicket || (len(ch.SessionID) > 0 && !offers13(ch))
	h.ECHOffered = ch.ECHOuter
	h.Extensions = make([]uint16, len(ch.Extensions))
	for i, e := range ch.Extensions {
		h.Extensions[i] = uint16(e)
	}
	b := t.buf[:0]
	b = ch.JA3String(b)
	h.JA3String = string(b)
	b = ch.JA3(b[:0])
	h.JA3 = string(b)
	b = ch.JA4(b[:0])
	h.JA4 = string(b)
	b = ch.JA4R(b[:0])
	h.JA4R = string(b)
	t.buf = b[:0]
}

// offers13 reports whether the hello offers TLS 1.3 (whose clients send a
// random legacy session id that is not a resumption offer).
func offers13(ch *tlsparse.ClientHello) bool {
	for _, v := range ch.SupportedVersions {
		if v == tlsparse.VersionTLS13 {
			return true
		}
	}
	return false
}

// serverHello records the facts of the (non-HRR) ServerHello.
func (a *active) serverHello(sh *tlsparse.ServerHello) {
	h := &a.h
	h.ServerHelloSeen = true
	v := sh.Version()
	h.Version = v
	h.Cipher = sh.CipherSuite
	if len(sh.ALPN) > 0 {
		h.NextProtocol = string(sh.ALPN)
	}
	h.KeyShareGroup = sh.KeyShareGroup
	if v == tlsparse.VersionTLS13 {
		a.tls13 = true
		h.Resumed = sh.HasPSK
		// From here the client's records are ciphertext too.
		a.st[a.client].SetEncrypted()
	} else if a.sessionIDLen > 0 && len(sh.SessionID) == a.sessionIDLen &&
		string(sh.SessionID) == string(a.sessionID[:a.sessionIDLen]) {
		h.Resumed = true
	}
}

// Alert implements tlsparse.Handler.
func (h *dirHandler) Alert(al tlsparse.Alert) {
	a := h.a
	if a.decided || a.client < 0 {
		return
	}
	t := a.t
	side := a.side(h.dir)
	rec := handshake.AlertRecord{Sender: side, Encrypted: al.Encrypted, Time: ts(t.now)}
	if t.cur != nil {
		rec.Packet = t.cur.Index
	}
	if !al.Encrypted {
		rec.Level = al.Level
		rec.Description = al.Description
	}
	if len(a.h.Alerts) < 16 {
		a.h.Alerts = append(a.h.Alerts, rec)
	}
	a.hist(h.dir, 'L')
	if a.f.state == stPost {
		// An alert right after the handshake (the client's close_notify):
		// the record is finished by the FIN that follows, so that it says
		// who closed, or by the post-handshake timeout.
		return
	}
	if al.Encrypted {
		return
	}
	if al.Level == tlsparse.AlertLevelFatal || al.Description != tlsparse.AlertCloseNotify && al.Level != tlsparse.AlertLevelWarning {
		if side == handshake.SideServer {
			t.decide(a.f, handshake.OutcomeServerAlert)
		} else {
			t.decide(a.f, handshake.OutcomeClientAlert)
		}
	}
}

// ChangeCipherSpec implements tlsparse.Handler.
func (h *dirHandler) ChangeCipherSpec() {
	a := h.a
	if a.decided || a.client < 0 {
		return
	}
	a.hist(h.dir, 'I')
	if a.side(h.dir) == handshake.SideClient {
		a.h.ClientCCS = true
	} else {
		a.h.ServerCCS = true
	}
	if !a.tls13 && a.h.ServerHelloSeen && a.h.ClientCCS && a.h.ServerCCS && a.f.state == stHandshake {
		a.t.establish(a.f)
	}
}

// ApplicationData implements tlsparse.Handler.
func (h *dirHandler) ApplicationData(length int, encrypted bool) {
	a := h.a
	if a.decided || a.client < 0 {
		return
	}
	t := a.t
	if a.side(h.dir) == handshake.SideServer {
		a.h.ServerAppData++
		if len(a.his) == 0 || a.his[len(a.his)-1] != 'q' {
			a.hist(h.dir, 'Q')
		}
		return
	}
	a.h.ClientAppData++
	a.clientEncRecs++
	if len(a.his) == 0 || a.his[len(a.his)-1] != 'Q' {
		a.hist(h.dir, 'Q')
	}
	if a.sslv2 {
		// SSL 2.0 after the SERVER-HELLO: the client's CLIENT-MASTER-KEY
		// (it accepted the server's answer), its CLIENT-FINISHED, then data.
		// A record shorter than a CLIENT-MASTER-KEY's fixed fields (10
		// bytes) is a cleartext ERROR message (3 bytes): no acceptance.
		a.sslv2Recs++
		switch {
		case a.f.state == stHandshake && length >= 10:
			t.establish(a.f)
		case a.f.state == stPost && a.sslv2Recs >= 3:
			a.h.ClientDataSent = true
			t.decide(a.f, handshake.OutcomeEstablished)
		}
		return
	}
	switch a.f.state {
	case stHandshake:
		if a.tls13 && a.h.ServerHelloSeen {
			// TLS 1.3: the client's first encrypted record is its Finished.
			t.establish(a.f)
		} else if !a.tls13 && a.h.ServerHelloSeen && a.h.ClientCCS && a.lastCT[h.dir] == tlsparse.ContentTypeApplicationData {
			// TLS <= 1.2 application data: the handshake is over.
			a.h.ClientDataSent = true
			t.establish(a.f)
			t.decide(a.f, handshake.OutcomeEstablished)
		}
	case stPost:
		// TLS 1.3 hides the record type. A record too short for a request
		// (an alert is 2 bytes + type + 16-byte tag = 19) is taken as the
		// client's encrypted close_notify.
		if !a.tls13 && a.lastCT[h.dir] != tlsparse.ContentTypeApplicationData {
			return // TLS <= 1.2: the client's encrypted Finished
		}
		if a.tls13 && length <= 24 {
			if len(a.h.Alerts) < 16 {
				a.h.Alerts = append(a.h.Alerts, handshake.AlertRecord{Sender: handshake.SideClient, Encrypted: true, Packet: t.cur.Index, Time: ts(t.now)})
			}
			return
		}
		a.h.ClientDataSent = true
		t.decide(a.f, handshake.OutcomeEstablished)
	}
}

// NotTLS implements tlsparse.Handler.
func (h *dirHandler) NotTLS(prefix []byte) {
	a := h.a
	if a.decided {
		return
	}
	if a.client < 0 {
		a.t.ignore(a.f)
		return
	}
	if a.side(h.dir) == handshake.SideServer {
		a.h.NotTLSPrefix = append([]byte(nil), prefix...)
		a.hist(h.dir, '!')
		a.t.decide(a.f, handshake.OutcomeNotTLS)
	}
}

// SSLv2ClientHello implements tlsparse.Handler.
func (h *dirHandler) SSLv2ClientHello(body []byte) {
	a := h.a
	if a.decided || a.client >= 0 {
		return
	}
	t := a.t
	a.clientHello(h.dir, nil)
	a.h.SSLv2Hello = true
	a.h.ClientHelloError = ""
	a.h.HelloLen = len(body)
	if err := tlsparse.ParseSSLv2ClientHello(body, &t.v2); err == nil {
		a.h.ClientLegacyVer = t.v2.Version
		a.h.ClientVersions = []tlsparse.Version{t.v2.Version}
		a.h.CipherCount = len(t.v2.CipherSpecs)
	}
}

// SSLv2ServerHello implements tlsparse.Handler: the server answered in SSL
// 2.0 (draft-hickman-netscape-ssl-00). SSLv2 has no TLS alerts (only ERROR
// messages, in the clear before the keys exist); the handshake counts as
// established when the client goes on with its CLIENT-MASTER-KEY, and the
// flow's end or the post-handshake timeout finishes the record.
func (h *dirHandler) SSLv2ServerHello(body []byte) {
	a := h.a
	if a.decided || a.client < 0 || h.dir == a.client || a.h.ServerHelloSeen {
		return
	}
	a.h.ServerRecords++
	a.hist(h.dir, 'S')
	var sh tlsparse.SSLv2ServerHello
	if tlsparse.ParseSSLv2ServerHello(body, &sh) != nil {
		return // as a TLS ServerHello that does not parse: only its letter
	}
	a.h.ServerHelloSeen = true
	a.h.Version = tlsparse.VersionSSL20
	a.sslv2 = true
	// The client's next records are SSLv2 records too.
	a.st[a.client].SetSSLv2()
}

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
	side := a.side(dir)
	switch side {
	case handshake.SideNone:
		t.remove(f)
		return
	case handshake.SideClient:
		a.h.ClientRST = true
	case handshake.SideServer:
		a.h.ServerRST = true
	}
	if a.h.EndedBy == handshake.SideNone {
		a.h.EndedBy = side
	}
	if side == handshake.SideServer && a.endOfServerBytes(dir) {
		return
	}
	t.decideEnd(f, a, side, handshake.OutcomeServerReset)
}

// decideEnd decides a flow that side ended abruptly (RST, or QUIC's
// CONNECTION_CLOSE without a TLS alert); bare is the outcome when the
// server did so without any alert before.
func (t *Tracker) decideEnd(f *flow, a *active, side handshake.Side, bare handshake.Outcome) {
	switch {
	case f.state == stPost:
		t.decide(f, handshake.OutcomeEstablished)
	case side == handshake.SideServer:
		t.decide(f, a.serverEndOutcome(bare))
	case a.serverBytes == 0:
		t.decide(f, handshake.OutcomeNoResponse)
	default:
		t.decide(f, handshake.OutcomeIncomplete)
	}
}

// checkFIN decides a flow once a FIN's direction is fully delivered.
func (t *Tracker) checkFIN(f *flow, a *active) {
	if a.client < 0 {
		if a.helloDir != 0 {
			// The connection ends before its ClientHello could be read whole.
			t.decide(f, handshake.OutcomeIncomplete)
		}
		return
	}
	for dir := 0; dir < 2; dir++ {
		r := &a.r[dir]
		if !r.finReached() || r.finSeq == 0 && !r.finSeen {
			continue
		}
		side := a.side(dir)
		switch side {
		case handshake.SideClient:
			if a.h.ClientFIN {
				continue
			}
			a.h.ClientFIN = true
		case handshake.SideServer:
			if a.h.ServerFIN {
				continue
			}
			a.h.ServerFIN = true
		}
		if a.h.EndedBy == handshake.SideNone {
			a.h.EndedBy = side
		}
		if side == handshake.SideServer && a.endOfServerBytes(dir) {
			return
		}
		switch {
		case f.state == stPost:
			t.decide(f, handshake.OutcomeEstablished)
		case side == handshake.SideServer:
			t.decide(f, a.serverEndOutcome(handshake.OutcomeServerClosed))
		case a.serverBytes == 0:
			t.decide(f, handshake.OutcomeNoResponse)
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
	if a.client < 0 && a.helloDir != 0 {
		a.partialHello()
		o = handshake.OutcomeIncomplete
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
