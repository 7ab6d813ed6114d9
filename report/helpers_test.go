package report

import (
	"net/netip"
	"testing"
	"time"

	quicv "github.com/hellowatch/hellowatch/quic"
	"github.com/hellowatch/hellowatch/tlsparse"

	"github.com/hellowatch/hellowatch/diagnose"
	"github.com/hellowatch/hellowatch/handshake"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 123456789, time.UTC)

// samples are hand-built records covering each outcome.
func samples() []struct {
	name string
	h    *handshake.Handshake
} {
	base := func() *handshake.Handshake {
		return &handshake.Handshake{
			Client:          netip.MustParseAddrPort("10.0.0.1:40000"),
			Server:          netip.MustParseAddrPort("104.16.1.1:443"),
			Transport:       handshake.TransportTCP,
			SYNTime:         t0.Add(-time.Millisecond),
			ClientHelloTime: t0,
			ClientVersions:  []tlsparse.Version{tlsparse.VersionTLS12, tlsparse.VersionTLS11, tlsparse.VersionTLS10},
			ClientLegacyVer: 0x0303,
			JA3:             "6734f37431670b3ab4292b8f60f29984",
			JA3String:       "771,4865-4866,0-10-11,29-23,0",
			JA4:             "t12i1710h1_5b57614c22b0_3d5424432f57",
			JA4R:            "t12i1710h1_002f,0035_000a,000b",
			Packets:         4,
			FirstPacket:     3,
			LastPacket:      7,
			History:         "Ca",
		}
	}
	noSNI := base()
	noSNI.ALPN = []string{"http/1.1"}
	noSNI.Alerts = []handshake.AlertRecord{{Sender: handshake.SideServer, Level: tlsparse.AlertLevelFatal, Description: 40, Packet: 6, Time: t0.Add(400 * time.Microsecond)}}
	noSNI.FirstAnswerTime = t0.Add(400 * time.Microsecond)
	noSNI.EndTime = noSNI.FirstAnswerTime
	noSNI.ServerFIN, noSNI.EndedBy = true, handshake.SideServer
	noSNI.Outcome = handshake.OutcomeServerAlert

	ok := base()
	ok.Client = netip.MustParseAddrPort("[2001:db8::1]:51000")
	ok.Server = netip.MustParseAddrPort("[2001:db8::2]:443")
	ok.HasSNI, ok.ServerName = true, "example.com"
	ok.ClientVersions = []tlsparse.Version{tlsparse.VersionTLS13, tlsparse.VersionTLS12}
	ok.ALPN = []string{"h2", "http/1.1"}
	ok.ServerHelloSeen, ok.Version = true, tlsparse.VersionTLS13
	ok.Cipher, ok.NextProtocol, ok.KeyShareGroup = tlsparse.TLS_AES_128_GCM_SHA256, "h2", tlsparse.GroupX25519MLKEM768
	ok.FirstAnswerTime = t0.Add(1500 * time.Microsecond)
	ok.EndTime = t0.Add(3 * time.Millisecond)
	ok.ClientDataSent, ok.ClientAppData, ok.ServerAppData = true, 3, 4
	ok.History = "CsxFF"
	ok.Outcome = handshake.OutcomeEstablished

	cert := base()
	cert.HasSNI, cert.ServerName = true, "expired.example"
	cert.ServerHelloSeen, cert.Version, cert.Cipher = true, tlsparse.VersionTLS12, tlsparse.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
	cert.Cert = &handshake.Certificate{Subject: "CN=expired.example", Issuer: "CN=Test CA", SANs: []string{"expired.example", "www.expired.example"},
		NotBefore: t0.Add(-48 * time.Hour), NotAfter: t0.Add(-24 * time.Hour), ChainLen: 2}
	cert.Alerts = []handshake.AlertRecord{{Sender: handshake.SideClient, Level: tlsparse.AlertLevelFatal, Description: 45, Packet: 9, Time: t0.Add(2 * time.Millisecond)}}
	cert.FirstAnswerTime = t0.Add(time.Millisecond)
	cert.Outcome = handshake.OutcomeClientAlert

	plain := base()
	plain.HasSNI, plain.ServerName = true, "api.internal"
	plain.NotTLSPrefix = []byte("HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n\r\n")
	plain.FirstAnswerTime = t0.Add(800 * time.Microsecond)
	plain.Outcome = handshake.OutcomeNotTLS

	hostile := base()
	hostile.HasSNI, hostile.ServerName = true, "evil\x1b[2J\x1b]0;pwned\x07\xff\xfe\u0085\u202e\\x41\"q\x7f"
	hostile.SNIInvalid = true
	hostile.ALPN = []string{"h2\x00", "\x9b31m"}
	hostile.Alerts = []handshake.AlertRecord{{Sender: handshake.SideServer, Level: tlsparse.AlertLevelFatal, Description: 112, Packet: 5, Time: t0.Add(time.Millisecond)},
		{Sender: handshake.SideClient, Encrypted: true, Packet: 6}}
	hostile.Outcome = handshake.OutcomeServerAlert

	silent := base()
	silent.Outcome = handshake.OutcomeNoResponse
	silent.EndTime = t0.Add(10 * time.Second)

	lost := base()
	lost.ClientVersions, lost.ClientLegacyVer, lost.JA3, lost.JA3String, lost.JA4, lost.JA4R = nil, 0, "", "", "", ""
	lost.Gap = true
	lost.Outcome = handshake.OutcomeIncomplete

	// A QUIC handshake refused with a CONNECTION_CLOSE carrying the TLS
	// alert internal_error (0x0150) and a reason phrase from the wire.
	quic := base()
	quic.Transport = handshake.TransportQUIC
	quic.SYNTime = time.Time{}
	quic.ClientVersions, quic.ALPN = []tlsparse.Version{tlsparse.VersionTLS13}, []string{"h3"}
	quic.JA4 = "q13d0312h3_55b375c5d22e_178839b6cec1"
	quic.Alerts = []handshake.AlertRecord{{Sender: handshake.SideServer, Level: tlsparse.AlertLevelFatal, Description: 80, Packet: 4, Time: t0.Add(600 * time.Microsecond)}}
	quic.FirstAnswerTime = t0.Add(600 * time.Microsecond)
	quic.EndTime = quic.FirstAnswerTime
	quic.QUIC = &handshake.QUICInfo{Version: quicv.Version1, DCID: []byte{0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08},
		Retry: true, RetryDCID: []byte{0xf0, 0x67, 0xa5, 0x50, 0x2a, 0x42, 0x62, 0xb5}, ClientInitials: 2, ServerInitials: 1, HelloPackets: 1,
		Close: &handshake.QUICClose{Sender: handshake.SideServer, Code: 0x0150, FrameType: 6, Reason: "no cert\x00\x1b[31m\xff\"", Packet: 4}}
	quic.Outcome = handshake.OutcomeServerAlert

	return []struct {
		name string
		h    *handshake.Handshake
	}{{"missing_sni", noSNI}, {"established_ipv6", ok}, {"expired_cert", cert}, {"plaintext", plain}, {"hostile_strings", hostile}, {"silence", silent}, {"lost_hello", lost}, {"quic_refused", quic}}
}

// noRawControls fails if b holds a C0 control (other than newline), DEL,
// a C1 control or a bidi override outside the ANSI colour codes we write.
func noRawControls(t *testing.T, b []byte, allowSGR bool) {
	t.Helper()
	s := string(b)
	for i, r := range s {
		switch {
		case r == '\n':
		case r == 0x1b && allowSGR && len(s) > i+1 && s[i+1] == '[':
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == 0x202e:
			t.Fatalf("raw control %U at %d in %q", r, i, s)
		}
	}
}

func findings(h *handshake.Handshake) []diagnose.Finding { return diagnose.Diagnose(h) }
