package report

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hellowatch/hellowatch/internal/testkit"
	quicv "github.com/hellowatch/hellowatch/quic"
	"github.com/hellowatch/hellowatch/tlsparse"

	"github.com/hellowatch/hellowatch/handshake"
)

func TestTextGolden(t *testing.T) {
	for _, color := range []bool{false, true} {
		name := "text.golden.txt"
		if color {
			name = "text_color.golden.txt"
		}
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			tw := NewTextWriter(&buf, color)
			for _, s := range samples() {
				if err := tw.Write(s.h, findings(s.h)); err != nil {
					t.Fatal(err)
				}
			}
			testkit.Golden(t, filepath.Join("testdata", name), buf.Bytes())
			if !color && bytes.IndexByte(buf.Bytes(), 0x1b) >= 0 {
				t.Fatal("ESC in colourless output")
			}
			noRawControls(t, buf.Bytes(), color)
		})
	}
}

func TestTextLine(t *testing.T) {
	tests := []struct {
		name string
		want []string
	}{
		{"missing_sni", []string{"12:00:00.123456 10.0.0.1:40000 → 104.16.1.1:443 (no SNI) TLS 1.2,TLS 1.1,TLS 1.0 → - alpn=http/1.1 server_alert server fatal handshake_failure(40)\n",
			"    missing_sni (error)\n      why: The ClientHello carried no SNI", "      fix: nginx: add `proxy_ssl_server_name on;`", "      nginx log: SSL_do_handshake() failed", "        - server sent fatal alert handshake_failure (40) in packet 6"}},
		{"established_ipv6", []string{`[2001:db8::1]:51000 → [2001:db8::2]:443 "example.com" TLS 1.3,TLS 1.2 → TLS 1.3 alpn=h2,http/1.1→h2 established` + "\n"}},
		{"plaintext", []string{`not_tls "HTTP/1.1 400 Bad Request\x0d\x0aServer: nginx\x0d\x0a\x0d\x0a"`}},
		{"lost_hello", []string{"(hello not decoded) ? → - incomplete\n"}},
		{"hostile_strings", []string{`"evil\x1b[2J\x1b]0;pwned\x07\xff\xfe\u0085\u202e\\x41\"q\x7f"`, `alpn=h2\x00,\x9b31m`, "server fatal unrecognized_name(112)"}},
	}
	all := map[string]*handshake.Handshake{}
	for _, s := range samples() {
		all[s.name] = s.h
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			h := all[tc.name]
			if err := NewTextWriter(&buf, false).Write(h, findings(h)); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, buf.String())
				}
			}
		})
	}
}

func TestTextHostileRandom(t *testing.T) {
	h := samples()[4].h
	var buf bytes.Buffer
	tw := NewTextWriter(&buf, false)
	for _, s := range []string{"\x1b[31m", "\x9b", "\xc2\x9b", "\u202e", "a\x00b", "\x7f"} {
		h2 := *h
		h2.ServerName = s
		h2.ALPN = []string{s}
		h2.NotTLSPrefix = []byte(s)
		h2.Outcome = handshake.OutcomeNotTLS
		if err := tw.Write(&h2, findings(&h2)); err != nil {
			t.Fatal(err)
		}
	}
	noRawControls(t, buf.Bytes(), false)
}

func TestAlertText(t *testing.T) {
	tests := []struct {
		a    handshake.AlertRecord
		want string
	}{
		{handshake.AlertRecord{Sender: handshake.SideServer, Level: tlsparse.AlertLevelFatal, Description: 40}, "server fatal handshake_failure(40)"},
		{handshake.AlertRecord{Sender: handshake.SideClient, Level: tlsparse.AlertLevelWarning, Description: 0}, "client warning close_notify(0)"},
		{handshake.AlertRecord{Sender: handshake.SideClient, Encrypted: true}, "client encrypted alert"},
		{handshake.AlertRecord{Sender: handshake.SideServer, Level: tlsparse.AlertLevelFatal, Description: 201}, "server fatal unknown(201)"},
	}
	for _, tc := range tests {
		if got := AlertText(&tc.a); got != tc.want {
			t.Errorf("AlertText(%+v) = %q, want %q", tc.a, got, tc.want)
		}
	}
}

func BenchmarkTextWriter(b *testing.B) {
	s := samples()[0]
	fs := findings(s.h)
	tw := NewTextWriter(discard{}, false)
	b.ReportAllocs()
	for b.Loop() {
		_ = tw.Write(s.h, fs)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestTextQUICEnd: a QUIC handshake that ended without a TLS alert says how
// on its line: the CONNECTION_CLOSE's sender and code, or the versions of
// the Version Negotiation the client gave up after.
func TestTextQUICEnd(t *testing.T) {
	quic := func(o handshake.Outcome, q handshake.QUICInfo) *handshake.Handshake {
		h := samples()[0].h
		h.Transport, h.Alerts, h.Outcome, h.QUIC = handshake.TransportQUIC, nil, o, &q
		return h
	}
	for _, tc := range []struct {
		h    *handshake.Handshake
		want string
	}{
		{quic(handshake.OutcomeServerClosed, handshake.QUICInfo{Version: quicv.Version1, Close: &handshake.QUICClose{Sender: handshake.SideServer, Code: 0x2}}),
			"QUIC v1 (no SNI) TLS 1.2,TLS 1.1,TLS 1.0 → - alpn=http/1.1 server_closed server CONNECTION_CLOSE 0x0002\n"},
		{quic(handshake.OutcomeServerClosed, handshake.QUICInfo{Version: quicv.Version1, Close: &handshake.QUICClose{Sender: handshake.SideServer, Code: 0x10c, Application: true}}),
			"server_closed server application CONNECTION_CLOSE 0x010c\n"},
		{quic(handshake.OutcomeServerClosed, handshake.QUICInfo{Version: quicv.Version2, VersionNegotiation: true, RejectedVersion: quicv.Version2, ServerVersions: []quicv.Version{quicv.Version1, 0x1a2a3a4a}}),
			"QUIC v2 (no SNI) TLS 1.2,TLS 1.1,TLS 1.0 → - alpn=http/1.1 server_closed server version_negotiation(v1,grease-0x1a2a3a4a)\n"},
		{quic(handshake.OutcomeIncomplete, handshake.QUICInfo{Version: quicv.Version1}), "→ - alpn=http/1.1 incomplete\n"},
	} {
		var buf bytes.Buffer
		if err := NewTextWriter(&buf, false).Write(tc.h, nil); err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(buf.String(), tc.want) {
			t.Errorf("line %q, want it to end with %q", buf.String(), tc.want)
		}
	}
}
