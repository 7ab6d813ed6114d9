package diagnose

import (
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/internal/testkit"
	"github.com/hellowatch/hellowatch/tlsparse"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

type mod func(*handshake.Handshake)

// hello builds a ClientHello-only record; mods add what the server did.
func hello(sni string, mods ...mod) *handshake.Handshake {
	h := &handshake.Handshake{
		Client:          netip.MustParseAddrPort("10.0.0.1:40000"),
		Server:          netip.MustParseAddrPort("203.0.113.5:443"),
		Transport:       handshake.TransportTCP,
		SYNTime:         t0.Add(-time.Millisecond),
		ClientHelloTime: t0,
		HasSNI:          sni != "",
		ServerName:      sni,
		ClientVersions:  []tlsparse.Version{tlsparse.VersionTLS13, tlsparse.VersionTLS12},
		ClientLegacyVer: 0x0303,
		CipherCount:     17,
		FirstPacket:     1,
		LastPacket:      8,
		Outcome:         handshake.OutcomeIncomplete,
	}
	for _, m := range mods {
		m(h)
	}
	return h
}

func alert(side handshake.Side, code tlsparse.AlertDescription, pkt uint64, after time.Duration) mod {
	return func(h *handshake.Handshake) {
		h.Alerts = append(h.Alerts, handshake.AlertRecord{Sender: side, Level: tlsparse.AlertLevelFatal, Description: code, Packet: pkt, Time: t0.Add(after)})
		if h.FirstAnswerTime.IsZero() && side == handshake.SideServer {
			h.FirstAnswerTime = t0.Add(after)
		}
	}
}

func encAlert(side handshake.Side, pkt uint64, after time.Duration) mod {
	return func(h *handshake.Handshake) {
		h.Alerts = append(h.Alerts, handshake.AlertRecord{Sender: side, Encrypted: true, Packet: pkt, Time: t0.Add(after)})
	}
}

func outcome(o handshake.Outcome) mod { return func(h *handshake.Handshake) { h.Outcome = o } }

func serverHello(v string) mod {
	return func(h *handshake.Handshake) {
		h.ServerHelloSeen = true
		h.Version = version(v)
		h.Cipher = tlsparse.TLS_AES_128_GCM_SHA256
		if h.FirstAnswerTime.IsZero() {
			h.FirstAnswerTime = t0.Add(300 * time.Microsecond)
		}
	}
}

func versions(vs ...string) mod {
	return func(h *handshake.Handshake) {
		h.ClientVersions = nil
		for _, v := range vs {
			h.ClientVersions = append(h.ClientVersions, version(v))
		}
	}
}

// version turns "TLS 1.2" back into its code, for readable test tables;
// an unknown name is a version no table knows (0x7a7a).
func version(name string) tlsparse.Version {
	if name == "" {
		return 0
	}
	for _, v := range []tlsparse.Version{tlsparse.VersionSSL30, tlsparse.VersionTLS10, tlsparse.VersionTLS11, tlsparse.VersionTLS12, tlsparse.VersionTLS13} {
		if v.String() == name {
			return v
		}
	}
	return 0x7a7a
}

func established(h *handshake.Handshake) {
	serverHello("TLS 1.3")(h)
	h.Outcome = handshake.OutcomeEstablished
	h.ClientCCS, h.ServerCCS = true, true
	h.ServerAppData = 4
	h.ClientAppData = 1
}

func dataSent(h *handshake.Handshake) { h.ClientDataSent = true; h.ClientAppData = 5 }

func clientClosed(rst bool) mod {
	return func(h *handshake.Handshake) {
		h.ClientFIN, h.ClientRST = !rst, rst
		h.EndedBy = handshake.SideClient
		h.EndTime = t0.Add(2 * time.Millisecond)
	}
}

func serverGone(rst bool) mod {
	return func(h *handshake.Handshake) {
		h.ServerFIN, h.ServerRST = !rst, rst
		h.EndedBy = handshake.SideServer
		h.FirstAnswerTime = t0.Add(200 * time.Microsecond)
		h.EndTime = h.FirstAnswerTime
		h.Outcome = handshake.OutcomeServerClosed
		if rst {
			h.Outcome = handshake.OutcomeServerReset
		}
	}
}

func silence(h *handshake.Handshake) {
	h.Outcome = handshake.OutcomeNoResponse
	h.EndTime = t0.Add(10 * time.Second)
}

func resumed(h *handshake.Handshake) {
	h.OffersSession, h.OffersPSK, h.Resumed = true, true, true
}

var (
	srv = handshake.SideServer
	cli = handshake.SideClient
)

type want struct {
	ids      []string
	sev      []string
	contains []string // substrings of the first finding's summary+evidence+nginx log
	nginx    string   // substring of the first finding's NginxLog
	hint     string   // substring of the first finding's Hint
}

var cases = []struct {
	name string
	h    *handshake.Handshake
	want want
}{
	// missing_sni: every way an SNI-strict server refuses (FIELD-NOTES table).
	{"missing_sni/cloudflare_40", hello("", alert(srv, 40, 6, 400*time.Microsecond), outcome(handshake.OutcomeServerAlert)),
		want{ids: []string{MissingSNI}, sev: []string{SeverityError},
			contains: []string{"handshake_failure (40)", "in packet 6", "0.4 ms after the ClientHello", "no server_name extension", "no ServerHello"},
			nginx:    "error:0A000410:SSL routines::sslv3 alert handshake failure:SSL alert number 40", hint: "proxy_ssl_server_name on;"}},
	{"missing_sni/haproxy_strict_sni_112", hello("", alert(srv, 112, 5, time.Millisecond), outcome(handshake.OutcomeServerAlert)),
		want{ids: []string{MissingSNI}, contains: []string{"unrecognized_name (112)"}, nginx: "0A000458:SSL routines::tlsv1 unrecognized name:SSL alert number 112"}},
	{"missing_sni/nginx_reject_handshake_112", hello("", alert(srv, 112, 4, time.Millisecond), outcome(handshake.OutcomeServerAlert), serverGone(false), outcome(handshake.OutcomeServerAlert)),
		want{ids: []string{MissingSNI}, contains: []string{"unrecognized_name (112)"}}},
	{"missing_sni/caddy_80", hello("", alert(srv, 80, 4, time.Millisecond), outcome(handshake.OutcomeServerAlert)),
		want{ids: []string{MissingSNI}, contains: []string{"internal_error (80)", "Caddy"}, nginx: "tlsv1 alert internal error"}},
	{"missing_sni/ssl_preread_40", hello("", alert(srv, 40, 7, 2*time.Millisecond), outcome(handshake.OutcomeServerAlert)),
		want{ids: []string{MissingSNI}, contains: []string{"handshake_failure (40)", "2.0 ms"}}},
	{"missing_sni/rst", hello("", serverGone(true)),
		want{ids: []string{MissingSNI}, contains: []string{"RST", "0.2 ms"}, nginx: "104: Connection reset by peer"}},
	{"missing_sni/fin", hello("", serverGone(false)),
		want{ids: []string{MissingSNI}, contains: []string{"FIN"}, nginx: "peer closed connection in SSL handshake"}},
	{"missing_sni/silence", hello("", silence),
		want{ids: []string{MissingSNI, NoResponse}, contains: []string{"silence", "10.00 s"}, nginx: "upstream timed out (110"}},
	{"missing_sni/s_server_default_cert_ok", hello("", established, dataSent), want{}},

	// missing_sni_resumed: the latent failure.
	{"missing_sni_resumed/psk", hello("", established, resumed, dataSent),
		want{ids: []string{MissingSNIResumed}, sev: []string{SeverityWarning}, contains: []string{"pre_shared_key", "expires"}, hint: "proxy_ssl_server_name on;"}},
	{"missing_sni_resumed/ticket", hello("", established, func(h *handshake.Handshake) { h.OffersTicket, h.OffersSession, h.Resumed = true, true, true }, dataSent),
		want{ids: []string{MissingSNIResumed}, contains: []string{"session ticket"}}},
	{"missing_sni/offered_session_not_resumed_haproxy", hello("", func(h *handshake.Handshake) { h.OffersSession, h.OffersPSK = true, true }, alert(srv, 112, 4, time.Millisecond), outcome(handshake.OutcomeServerAlert)),
		want{ids: []string{MissingSNI}}},
	{"sni_present_resumed_ok", hello("example.com", established, resumed, dataSent), want{}},

	// unknown_name.
	{"unknown_name/112", hello("wrong.example", alert(srv, 112, 4, time.Millisecond), outcome(handshake.OutcomeServerAlert)),
		want{ids: []string{UnknownName}, contains: []string{`"wrong.example"`, "unrecognized_name (112)"}, hint: "proxy_ssl_name", nginx: "SSL alert number 112"}},
	{"unknown_name/invalid_sni", hello("bad name!", func(h *handshake.Handshake) { h.SNIInvalid = true }, alert(srv, 112, 4, time.Millisecond), outcome(handshake.OutcomeServerAlert)),
		want{ids: []string{UnknownName}, contains: []string{"not a valid DNS host name"}}},

	// no_shared_cipher: 40 with SNI and overlapping versions.
	{"no_shared_cipher/40_with_sni", hello("example.com", alert(srv, 40, 4, time.Millisecond), outcome(handshake.OutcomeServerAlert)),
		want{ids: []string{NoSharedCipher}, contains: []string{"handshake_failure (40)", "17 cipher suites"}, hint: "proxy_ssl_ciphers"}},

	// version_mismatch.
	{"version_mismatch/40_old_client_only", hello("example.com", versions("TLS 1.1", "TLS 1.0"), alert(srv, 40, 4, time.Millisecond), outcome(handshake.OutcomeServerAlert)),
		want{ids: []string{VersionMismatch}, contains: []string{"TLS 1.1, TLS 1.0"}, hint: "proxy_ssl_protocols TLSv1.2 TLSv1.3;"}},
	{"version_mismatch/nginx122_vs_tls13_only_70", hello("", versions("TLS 1.2"), alert(srv, 70, 4, time.Millisecond), outcome(handshake.OutcomeServerAlert)),
		want{ids: []string{VersionMismatch}, contains: []string{"protocol_version (70)", "offered no TLS 1.3"}, nginx: "0A00042E:SSL routines::tlsv1 alert protocol version:SSL alert number 70"}},
	{"version_mismatch/curl_vs_tls10_server_80", hello("old.example", serverHello("TLS 1.0"), alert(cli, 80, 5, 2*time.Millisecond), outcome(handshake.OutcomeClientAlert)),
		want{ids: []string{VersionMismatch}, contains: []string{"chose TLS 1.0", "internal_error (80)", "client sent fatal alert"}, nginx: "unsupported protocol"}},
	{"version_mismatch/client_70", hello("old.example", serverHello("TLS 1.0"), alert(cli, 70, 5, 2*time.Millisecond), outcome(handshake.OutcomeClientAlert)),
		want{ids: []string{VersionMismatch}, contains: []string{"protocol_version (70)"}}},

	// untrusted_certificate: every certificate alert.
	{"untrusted_certificate/unknown_ca_48", hello("example.com", serverHello("TLS 1.3"), alert(cli, 48, 7, 3*time.Millisecond), outcome(handshake.OutcomeClientAlert)),
		want{ids: []string{UntrustedCertificate}, contains: []string{"unknown_ca (48)", "in packet 7"}, hint: "proxy_ssl_trusted_certificate"}},
	{"untrusted_certificate/expired_45", hello("example.com", serverHello("TLS 1.2"), func(h *handshake.Handshake) {
		h.Cert = &handshake.Certificate{Subject: "CN=example.com", Issuer: "CN=Test CA", NotAfter: t0.Add(-24 * time.Hour), ChainLen: 2}
	}, alert(cli, 45, 7, 3*time.Millisecond), outcome(handshake.OutcomeClientAlert)),
		want{ids: []string{CertificateExpired, UntrustedCertificate}, contains: []string{"expired on 2026-11-24", "valid until"}, hint: "renew", nginx: "(10:certificate has expired)"}},
	{"untrusted_certificate/bad_certificate_42", hello("example.com", serverHello("TLS 1.3"), alert(cli, 42, 7, 3*time.Millisecond), outcome(handshake.OutcomeClientAlert)),
		want{ids: []string{UntrustedCertificate}, contains: []string{"bad_certificate (42)"}}},
	{"untrusted_certificate/unsupported_43", hello("example.com", serverHello("TLS 1.2"), alert(cli, 43, 7, 3*time.Millisecond), outcome(handshake.OutcomeClientAlert)),
		want{ids: []string{UntrustedCertificate}, contains: []string{"unsupported_certificate (43)"}}},
	{"untrusted_certificate/revoked_44", hello("example.com", serverHello("TLS 1.2"), alert(cli, 44, 7, 3*time.Millisecond), outcome(handshake.OutcomeClientAlert)),
		want{ids: []string{UntrustedCertificate}, contains: []string{"certificate_revoked (44)"}, hint: "revoked"}},
	{"untrusted_certificate/unknown_46_self_signed", hello("example.com", serverHello("TLS 1.2"), func(h *handshake.Handshake) {
		h.Cert = &handshake.Certificate{Subject: "CN=x", Issuer: "CN=x", ChainLen: 1}
	}, alert(cli, 46, 7, 3*time.Millisecond), outcome(handshake.OutcomeClientAlert)),
		want{ids: []string{CertificateNameMismatch, UntrustedCertificate}, contains: []string{`not for "example.com"`, `covers "CN of CN=x"`}}},

	// closed_after_handshake: nginx proxy_ssl_verify, Go's encrypted alert.
	{"closed_after_handshake/nginx_verify", hello("example.com", established, encAlert(cli, 9, 2*time.Millisecond), clientClosed(false)),
		want{ids: []string{ClosedAfterHandshake}, contains: []string{"without sending application data", "encrypted alert", "FIN"}, nginx: "(19:self-signed certificate in certificate chain)", hint: "proxy_ssl_trusted_certificate"}},
	{"closed_after_handshake/rst_resumed", hello("example.com", established, resumed, clientClosed(true)),
		want{ids: []string{ClosedAfterHandshake}, contains: []string{"RST", "resumed"}}},
	{"closed_after_handshake/request_sent_then_closed", hello("example.com", established, dataSent, clientClosed(false)), want{}},
	{"closed_after_handshake/server_closed_first", hello("example.com", established, func(h *handshake.Handshake) { h.ServerFIN, h.EndedBy = true, srv }), want{}},
	{"established_no_close_yet", hello("example.com", established), want{}},

	// plaintext_upstream.
	{"plaintext_upstream/http_400", hello("example.com", func(h *handshake.Handshake) {
		h.Outcome = handshake.OutcomeNotTLS
		h.NotTLSPrefix = []byte("HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n")
		h.FirstAnswerTime = t0.Add(time.Millisecond)
	}), want{ids: []string{PlaintextUpstream}, contains: []string{`"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n"`, "plain HTTP"}, hint: "proxy_pass http://", nginx: "wrong version number"}},
	{"plaintext_upstream/ssh_banner_escaped", hello("", func(h *handshake.Handshake) {
		h.Outcome = handshake.OutcomeNotTLS
		h.NotTLSPrefix = []byte("SSH-2.0-OpenSSH\x1b[31m\xff")
	}), want{ids: []string{PlaintextUpstream}, contains: []string{`\x1b[31m\xff`, "SSH"}}},

	// no_response with SNI.
	{"no_response/sni", hello("example.com", silence),
		want{ids: []string{NoResponse}, contains: []string{"504", "10.00 s"}, nginx: "upstream timed out"}},

	// server_refused: RST / FIN / other alerts with SNI present.
	{"server_refused/rst_with_sni", hello("example.com", serverGone(true)),
		want{ids: []string{ServerRefused}, contains: []string{"RST"}, nginx: "Connection reset by peer"}},
	{"server_refused/fin_with_sni", hello("example.com", serverGone(false)),
		want{ids: []string{ServerRefused}, contains: []string{"FIN"}}},
	{"server_refused/certificate_required_116", hello("example.com", serverHello("TLS 1.3"), alert(srv, 116, 9, 5*time.Millisecond), outcome(handshake.OutcomeServerAlert)),
		want{ids: []string{ClientCertificateRequired}, contains: []string{"certificate_required (116)", "requires a client certificate"}, hint: "proxy_ssl_certificate"}},
	{"server_refused/80_with_sni", hello("example.com", alert(srv, 80, 4, time.Millisecond), outcome(handshake.OutcomeServerAlert)),
		want{ids: []string{ServerRefused}, hint: "Caddy"}},

	// client_refused.
	{"client_refused/decode_error", hello("example.com", serverHello("TLS 1.3"), alert(cli, 50, 5, time.Millisecond), outcome(handshake.OutcomeClientAlert)),
		want{ids: []string{ClientRefused}, contains: []string{"decode_error (50)"}}},

	// sni_is_ip.
	{"sni_is_ip/success_warning", hello("192.0.2.7", func(h *handshake.Handshake) { h.SNIIsIP = true }, established, dataSent),
		want{ids: []string{SNIIsIP}, sev: []string{SeverityWarning}, contains: []string{`"192.0.2.7"`, "RFC 6066"}}},
	{"sni_is_ip/refused_112_error_first", hello("192.0.2.7", func(h *handshake.Handshake) { h.SNIIsIP = true }, alert(srv, 112, 4, time.Millisecond), outcome(handshake.OutcomeServerAlert)),
		want{ids: []string{SNIIsIP, UnknownName}, sev: []string{SeverityError, SeverityError}}},
	{"sni_is_ip/no_response_after", hello("192.0.2.7", func(h *handshake.Handshake) { h.SNIIsIP = true }, silence),
		want{ids: []string{NoResponse, SNIIsIP}}},

	// The tracker may end a flow as server_closed/server_reset after a
	// ServerHello: the client's abort is the story then.
	{"client_refused/go_encrypted_alert_then_server_fin", hello("example.com", serverHello("TLS 1.3"), encAlert(cli, 8, 3*time.Millisecond), serverGone(false), func(h *handshake.Handshake) { h.ServerHelloSeen = true }),
		want{ids: []string{UntrustedCertificate}, contains: []string{"encrypted alert in place of its Finished", "inferred", "Go clients"}, hint: "RootCAs"}},
	{"untrusted_certificate/plaintext_48_then_server_fin", hello("example.com", serverHello("TLS 1.3"), alert(cli, 48, 8, 3*time.Millisecond), serverGone(false), func(h *handshake.Handshake) { h.ServerHelloSeen = true }),
		want{ids: []string{UntrustedCertificate}, contains: []string{"unknown_ca (48)"}}},
	{"server_refused/fin_after_server_hello", hello("", serverHello("TLS 1.2"), serverGone(false), func(h *handshake.Handshake) { h.ServerHelloSeen = true }),
		want{ids: []string{ServerRefused}, contains: []string{"after its ServerHello"}}},

	// A firewall between the two resets on the SNI (FIELD-NOTES, Beyond
	// SNI 8): the RST has the router's TTL, the server's SYN-ACK another.
	{"middlebox_reset/ttl", hello("blocked.example", serverGone(true), func(h *handshake.Handshake) { h.ServerTTL, h.EndTTL = 63, 64 }),
		want{ids: []string{MiddleboxReset, ServerRefused}, contains: []string{"TTL 64", "TTL 63", "1 hop(s) nearer"}, nginx: "Connection reset by peer"}},
	{"middlebox_reset/too_soon", hello("blocked.example", serverGone(true), func(h *handshake.Handshake) {
		h.SYNTime, h.SYNACKTime = t0.Add(-50*time.Millisecond), t0.Add(-30*time.Millisecond)
	}), want{ids: []string{MiddleboxReset, ServerRefused}, contains: []string{"0.2 ms after the ClientHello", "round trip was 20.0 ms"}}},
	{"middlebox_reset/not_when_same_ttl_and_slow", hello("blocked.example", serverGone(true), func(h *handshake.Handshake) {
		h.ServerTTL, h.EndTTL = 64, 64
		h.SYNTime, h.SYNACKTime = t0.Add(-50*time.Millisecond), t0.Add(-49*time.Millisecond)
		h.FirstAnswerTime = t0.Add(600 * time.Microsecond) // more than half the 1 ms round trip
	}), want{ids: []string{ServerRefused}}},
	{"middlebox_reset/not_on_loopback_timing", hello("blocked.example", serverGone(true), func(h *handshake.Handshake) {
		h.SYNTime, h.SYNACKTime = t0.Add(-50*time.Millisecond), t0.Add(-49950*time.Microsecond)
	}), want{ids: []string{ServerRefused}}},

	// A ClientHello lost to a capture gap says nothing about SNI.
	{"hello_not_decoded/rst", hello("", versions(), func(h *handshake.Handshake) { h.ClientLegacyVer = 0 }, serverGone(true)),
		want{ids: []string{ServerRefused}, contains: []string{"could not be decoded"}}},
	{"hello_not_decoded/silence", hello("", versions(), func(h *handshake.Handshake) { h.ClientLegacyVer = 0 }, silence),
		want{ids: []string{NoResponse}}},
	{"hello_not_decoded/alert_40", hello("", versions(), func(h *handshake.Handshake) { h.ClientLegacyVer = 0 }, alert(srv, 40, 4, time.Millisecond), outcome(handshake.OutcomeServerAlert)),
		want{ids: []string{ServerRefused}, contains: []string{"could not be decoded", "handshake_failure (40)"}}},

	// incomplete: nothing to say.
	{"incomplete", hello("", func(h *handshake.Handshake) { h.Gap = true }), want{}},
}

func ids(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID)
	}
	return out
}

func TestDiagnose(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := Diagnose(tc.h)
			if got := ids(fs); !slices.Equal(got, tc.want.ids) {
				t.Fatalf("ids = %v, want %v", got, tc.want.ids)
			}
			if len(tc.want.ids) == 0 {
				if fs != nil {
					t.Fatalf("want nil, got %#v", fs)
				}
				return
			}
			for i, s := range tc.want.sev {
				if fs[i].Severity != s {
					t.Errorf("finding %d severity = %q, want %q", i, fs[i].Severity, s)
				}
			}
			f := fs[0]
			text := f.Summary + "\n" + strings.Join(f.Evidence, "\n") + "\n" + f.NginxLog
			for _, c := range tc.want.contains {
				if !strings.Contains(text, c) {
					t.Errorf("summary/evidence lack %q:\n%s", c, text)
				}
			}
			if !strings.Contains(f.NginxLog, tc.want.nginx) {
				t.Errorf("nginx log = %q, want it to contain %q", f.NginxLog, tc.want.nginx)
			}
			if !strings.Contains(f.Hint, tc.want.hint) {
				t.Errorf("hint = %q, want it to contain %q", f.Hint, tc.want.hint)
			}
			checkInvariants(t, tc.h, fs)
		})
	}
}

// checkInvariants holds for every result of Diagnose.
func checkInvariants(t *testing.T, h *handshake.Handshake, fs []Finding) {
	t.Helper()
	known := FindingIDs()
	clients := []string{"nginx", "haproxy", "envoy", "curl", "go"}
	seen := map[string]bool{}
	for _, f := range fs {
		if !slices.Contains(known, f.ID) {
			t.Errorf("finding %q not in FindingIDs", f.ID)
		}
		if seen[f.ID] {
			t.Errorf("finding %q twice", f.ID)
		}
		seen[f.ID] = true
		if f.Severity != SeverityError && f.Severity != SeverityWarning {
			t.Errorf("%s: severity %q", f.ID, f.Severity)
		}
		if f.Summary == "" || !strings.HasSuffix(f.Summary, ".") || strings.ContainsAny(f.Summary, "\n\r") {
			t.Errorf("%s: summary is not one sentence: %q", f.ID, f.Summary)
		}
		if f.Hint == "" || len(f.Evidence) == 0 {
			t.Errorf("%s: missing hint or evidence", f.ID)
		}
		for _, e := range append(slices.Clone(f.Evidence), f.Summary, f.Hint, f.NginxLog) {
			for _, r := range e {
				if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
					t.Errorf("%s: raw control character %U in %q", f.ID, r, e)
				}
			}
		}
		for _, hh := range f.Hints {
			if !slices.Contains(clients, hh.Client) || hh.Text == "" {
				t.Errorf("%s: bad hint %+v", f.ID, hh)
			}
		}
		// An established handshake fails only when the client closed it at
		// once without a request: it refused what it got, silently.
		closedAtOnce := !h.ClientDataSent && (h.ClientFIN || h.ClientRST || h.ServerFIN || h.ServerRST) && h.Transport != handshake.TransportQUIC &&
			(h.EndedBy == handshake.SideClient || slices.ContainsFunc(h.Alerts, func(a handshake.AlertRecord) bool { return a.Sender == handshake.SideClient && a.Encrypted }))
		if f.Severity == SeverityError && h.Established() && !(closedAtOnce && slices.Contains([]string{ClosedAfterHandshake, MissingSNI,
			CertificateNameMismatch, CertificateExpired, CertificateNotYetValid, ALPNMismatch}, f.ID)) {
			t.Errorf("%s: error on an established handshake", f.ID)
		}
	}
}

func TestDiagnoseNil(t *testing.T) {
	if fs := Diagnose(nil); fs != nil {
		t.Fatalf("Diagnose(nil) = %v", fs)
	}
}

func TestFindingIDsUnique(t *testing.T) {
	ids := FindingIDs()
	s := slices.Clone(ids)
	slices.Sort(s)
	if len(slices.Compact(s)) != len(ids) {
		t.Fatalf("duplicate IDs in %v", ids)
	}
}

// TestDiagnoseRandom feeds random records: no panic, invariants hold.
func TestDiagnoseRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	names := []string{"", "example.com", "192.0.2.1", "\x1b[2J\xff\xfe", "a\u0085b"}
	vers := []string{"", "SSL 3.0", "TLS 1.0", "TLS 1.2", "TLS 1.3", "weird"}
	for i := 0; i < 20000; i++ {
		h := hello(names[r.IntN(len(names))])
		h.SNIIsIP = h.HasSNI && r.IntN(3) == 0
		h.Outcome = handshake.Outcome(r.IntN(9))
		h.ServerHelloSeen = r.IntN(2) == 0
		h.Version = version(vers[r.IntN(len(vers))])
		h.Resumed = r.IntN(3) == 0
		h.ClientFIN, h.ClientRST, h.ClientDataSent = r.IntN(2) == 0, r.IntN(4) == 0, r.IntN(2) == 0
		h.EndedBy = handshake.Side(r.IntN(3))
		if r.IntN(2) == 0 {
			h.ClientVersions = nil
		}
		if r.IntN(3) == 0 {
			h.NotTLSPrefix = []byte(names[r.IntN(len(names))])
		}
		for n := r.IntN(3); n > 0; n-- {
			h.Alerts = append(h.Alerts, handshake.AlertRecord{Sender: handshake.Side(r.IntN(3)), Level: tlsparse.AlertLevel(r.IntN(3)), Description: tlsparse.AlertDescription(r.IntN(256)), Encrypted: r.IntN(4) == 0})
		}
		fs := Diagnose(h)
		if !h.Established() && h.Outcome != handshake.OutcomeIncomplete && h.Outcome < 8 {
			if len(fs) == 0 {
				t.Fatalf("failed handshake with no finding: %+v", h)
			}
		}
		checkInvariants(t, h, fs)
		if t.Failed() {
			t.Fatalf("record: %+v", h)
		}
	}
}

// TestGolden pins the full text of every case's findings.
func TestGolden(t *testing.T) {
	type entry struct {
		Case     string
		Findings []Finding
	}
	var all []entry
	for _, tc := range cases {
		all = append(all, entry{tc.name, Diagnose(tc.h)})
	}
	got, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	testkit.Golden(t, filepath.Join("testdata", "findings.golden.json"), got)
}

func BenchmarkDiagnose(b *testing.B) {
	for _, tc := range cases[:8] {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Diagnose(tc.h)
			}
		})
	}
}

func TestDiagnoseSuccessNoAlloc(t *testing.T) {
	h := hello("example.com", established, dataSent)
	if n := testing.AllocsPerRun(100, func() { _ = Diagnose(h) }); n != 0 {
		t.Fatalf("Diagnose of a clean handshake allocates %v times", n)
	}
}

func BenchmarkDiagnoseEstablished(b *testing.B) {
	h := hello("example.com", established, dataSent)
	b.ReportAllocs()
	for b.Loop() {
		_ = Diagnose(h)
	}
}
