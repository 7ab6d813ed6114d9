package capture

// The tlsparse.Handler of each direction: TLS records and messages as the
// stream parser reads them, turned into record facts and state changes.

import (
	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/tlsparse"
)

// dirHandler receives the tlsparse events of one direction.
type dirHandler struct {
	a   *active
	dir int
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
		if typ == tlsparse.HandshakeCertificate && a.h.ClientCert == handshake.ClientCertNone {
			// certificate_list<0..2^24-1> (RFC 5246 §7.4.2)
			a.h.ClientCert = handshake.ClientCertSent
			if len(body) >= 3 && body[0]|body[1]|body[2] == 0 {
				a.h.ClientCert = handshake.ClientCertEmpty
			}
		}
		return
	}
	if typ == tlsparse.HandshakeCertificateRequest {
		a.h.CertRequested = true
	}
	switch typ {
	case tlsparse.HandshakeServerHello:
		if sh := a.serverHelloMessage(h.dir, body); sh != nil {
			a.serverHello(sh)
		}
	case tlsparse.HandshakeCertificate:
		a.hist(h.dir, 'X')
		if a.h.Cert == nil {
			if c := t.certs.certificate(body, &t.cs); c != nil {
				a.h.Cert = c
			}
		}
	case tlsparse.HandshakeServerKeyExchange:
		a.hist(h.dir, 'K')
		if a.h.Cipher.ECDHE() {
			if g, ok := tlsparse.ServerKeyExchangeGroup(body); ok {
				a.h.ECDHGroup = g
			}
		}
	default:
		a.hist(h.dir, historyLetter(typ))
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
	a.addAlert(rec)
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
		t.decideAlert(a.f, side)
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
	a.histData(h.dir)
	if a.side(h.dir) == handshake.SideServer {
		if len(a.h.ServerEncrypted) < handshake.MaxEncrypted {
			a.h.ServerEncrypted = append(a.h.ServerEncrypted, uint16(min(length, 0xffff)))
		}
		a.h.ServerAppData++
		if a.tls13 && a.f.state == stHandshake && a.clientEncRecs > 0 {
			// The server answers the client's flight: the flight ended
			// (its Finished had an odd size, or was lost).
			if a.h.ClientFinished == 0 {
				a.h.ClientFinished = a.clientEncRecs
				a.h.ServerBeforeFinished = a.h.ServerAppData - 1
			}
			t.establish(a.f)
		}
		if a.tls13 && a.f.state == stPost && a.waitAnswer && a.serverAfter == 0 {
			// The server's first record after a client flight that carried
			// a certificate: an answer, or a lone alert (a refusal).
			a.serverAfter = length
			if length > maxAlertRecord {
				t.decide(a.f, handshake.OutcomeEstablished)
			} else {
				a.addAlert(handshake.AlertRecord{Sender: handshake.SideServer, Encrypted: true, Packet: t.cur.Index, Time: ts(t.now)})
			}
		}
		if a.f.state == stPost && !a.tls13 && !a.sslv2 && a.h.ClientDataSent && a.h.ServerCCS {
			// False Start: the server's Finished after the client's data.
			t.decide(a.f, handshake.OutcomeEstablished)
		}
		return
	}
	a.h.ClientAppData++
	a.clientEncRecs++
	if len(a.h.ClientEncrypted) < handshake.MaxEncrypted {
		a.h.ClientEncrypted = append(a.h.ClientEncrypted, uint16(min(length, 0xffff)))
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
			switch {
			case a.clientEncRecs == 1 && length <= maxAlertRecord:
				// An alert in place of the client's flight: a client that
				// rejects the server's certificate and encrypts the alert
				// (Go: bad_certificate). A Finished is at least 53 bytes.
				a.addAlert(handshake.AlertRecord{Sender: handshake.SideClient, Encrypted: true, Packet: t.cur.Index, Time: ts(t.now)})
				t.decide(a.f, handshake.OutcomeClientAlert)
			case length == finishedRecord(a.h.Cipher) || a.clientEncRecs >= 4:
				// TLS 1.3: the client's flight ends with its Finished;
				// records before it are its Certificate and
				// CertificateVerify.
				a.h.ClientFinished = a.clientEncRecs
				a.h.ServerBeforeFinished = a.h.ServerAppData
				a.waitAnswer = a.clientEncRecs > 1
				t.establish(a.f)
			}
		} else if !a.tls13 && a.h.ServerHelloSeen && a.h.ClientCCS && a.lastCT[h.dir] == tlsparse.ContentTypeApplicationData {
			// TLS <= 1.2 application data: the handshake is over, once
			// the server's flight is in too. A client doing False Start
			// (RFC 7918) sends data before the server's ChangeCipherSpec
			// and Finished: the record waits for them (or for the
			// post-handshake timeout, or the end of the connection), so
			// that it tells what the server did.
			a.h.ClientDataSent = true
			t.establish(a.f)
			if a.h.ServerCCS {
				t.decide(a.f, handshake.OutcomeEstablished)
			}
		}
	case stPost:
		// TLS 1.3 hides the record type. A record too short for a request
		// (an alert is 2 bytes + type + 16-byte tag = 19) is taken as the
		// client's encrypted close_notify.
		if !a.tls13 && a.lastCT[h.dir] != tlsparse.ContentTypeApplicationData {
			return // TLS <= 1.2: the client's encrypted Finished
		}
		if a.tls13 && length <= maxAlertRecord {
			a.addAlert(handshake.AlertRecord{Sender: handshake.SideClient, Encrypted: true, Packet: t.cur.Index, Time: ts(t.now)})
			return
		}
		a.h.ClientDataSent = true
		if a.waitAnswer && a.serverAfter == 0 {
			// After a flight with a client certificate the server may still
			// refuse it (TLS 1.3 does so after the client is done): the
			// record waits for the server's first answer.
			return
		}
		if !a.tls13 && !a.h.ServerCCS {
			return // False Start: see above
		}
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

// hist appends a history letter from Zeek's ssl_history table: upper case
// for the client, lower for the server; '^' marks nothing here (the client
// is always the hello's sender). See handshake.Handshake.History.
func (a *active) hist(dir int, c byte) {
	if len(a.his) >= 64 {
		return
	}
	if a.side(dir) == handshake.SideServer {
		c = c | 0x20
	}
	a.his = append(a.his, c)
}

// histData appends 'D' for a run of records the direction sent that were
// application data or encrypted (Zeek's letter for application_data): one
// letter per run, so that a long transfer does not fill the history.
func (a *active) histData(dir int) {
	c := byte('D')
	if a.side(dir) == handshake.SideServer {
		c = 'd'
	}
	if n := len(a.his); n > 0 && a.his[n-1] == c {
		return
	}
	a.hist(dir, 'D')
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

// maxAlertRecord is the largest TLS 1.3 record taken for an encrypted
// alert: 2 alert bytes, the content type and a 16-byte AEAD tag are 19;
// a few bytes of padding are allowed. A Finished is at least 53.
const maxAlertRecord = 24

// finishedRecord returns the length of a TLS 1.3 record holding a Finished
// under suite c: the 4-byte message header, the hash (48 bytes for SHA-384
// suites, else 32), the content type and a 16-byte tag.
func finishedRecord(c tlsparse.CipherSuite) int {
	if c == tlsparse.TLS_AES_256_GCM_SHA384 {
		return 4 + 48 + 1 + 16
	}
	return 4 + 32 + 1 + 16
}
