package capture

// Filling the record from the ClientHello and ServerHello, one path for
// TCP and QUIC.

import (
	"slices"

	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/tlsparse"
)

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

// noteTunnels copies the tunnels of the client's packet that starts the
// ClientHello into the record (once; nothing for a flow not tunnelled).
func (a *active) noteTunnels(ts []handshake.Tunnel) {
	if len(ts) > 0 && a.h.Tunnel == nil {
		a.h.Tunnel = slices.Clone(ts)
	}
}

// clientHello records the facts of the ClientHello sent in direction dir.
func (a *active) clientHello(dir int, body []byte) {
	t := a.t
	a.client = dir
	a.helloTentative = false
	a.f.state = stHandshake
	if a.helloDir == 0 || a.helloTS == 0 {
		a.helloTS = t.now
		a.h.FirstPacket = t.cur.Index
	}
	a.noteTunnels(t.curTun)
	a.helloEnd = a.h.Packets
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
	if len(ch.KeyShares) > 0 {
		h.ClientKeyShares = make([]tlsparse.NamedGroup, len(ch.KeyShares))
		for i, ks := range ch.KeyShares {
			h.ClientKeyShares[i] = ks.Group
		}
	}
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

// serverTTL notes the TTL of a packet from the server side (dir): the
// SYN-ACK's if one was seen, else the first one's; and that of the RST or
// FIN that ends its side.
func (a *active) serverTTL(dir int, d *Decoded) {
	h := &a.h
	if h.ServerTTL == 0 {
		h.ServerTTL = a.f.ttl[dir]
		if h.ServerTTL == 0 && d.Flags&(tcpRST|tcpFIN) == 0 {
			h.ServerTTL = d.TTL
		}
	}
	if d.Flags&(tcpRST|tcpFIN) != 0 && h.EndTTL == 0 {
		h.EndTTL = d.TTL
	}
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

// serverHelloMessage reads a ServerHello message of the server (from a TLS
// record or QUIC CRYPTO frames): a HelloRetryRequest is only noted. It
// returns the parsed hello, or nil.
func (a *active) serverHelloMessage(dir int, body []byte) *tlsparse.ServerHello {
	sh := &a.t.sh
	if err := tlsparse.ParseServerHello(body, sh); err != nil {
		a.hist(dir, 'S')
		return nil
	}
	if sh.IsHRR {
		a.h.HRR = true
		a.hist(dir, 'J')
		return nil
	}
	a.hist(dir, 'S')
	return sh
}

// maxAlerts caps the alerts kept in a record.
const maxAlerts = 16

// addAlert adds an alert to the record (up to maxAlerts).
func (a *active) addAlert(rec handshake.AlertRecord) {
	if len(a.h.Alerts) < maxAlerts {
		a.h.Alerts = append(a.h.Alerts, rec)
	}
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
	} else if sh.HasPSK {
		// A TLS 1.3 draft or experiment that selected a pre-shared key.
		h.Resumed = true
	} else if v>>8 != 0x7f && a.sessionIDLen > 0 && len(sh.SessionID) == a.sessionIDLen &&
		string(sh.SessionID) == string(a.sessionID[:a.sessionIDLen]) {
		// An echoed session id resumes (TLS <= 1.2); TLS 1.3 drafts echo
		// the client's random legacy session id like TLS 1.3 does.
		h.Resumed = true
	}
}
