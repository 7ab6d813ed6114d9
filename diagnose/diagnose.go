// Package diagnose turns a finished handshake.Handshake into findings: the
// cause of a failed (or latently fragile) TLS handshake, the evidence that
// proves it, and the fix for the common clients (nginx, HAProxy, Envoy, curl,
// Go). It is a set of pure functions: no I/O, no clocks, no globals that
// change.
package diagnose

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/tlsparse"
)

// Finding IDs. The words are stable: they appear in text, JSON and the
// finding metric label.
const (
	MissingSNI           = "missing_sni"
	MissingSNIResumed    = "missing_sni_resumed"
	UnknownName          = "unknown_name"
	SNIIsIP              = "sni_is_ip"
	VersionMismatch      = "version_mismatch"
	NoSharedCipher       = "no_shared_cipher"
	UntrustedCertificate = "untrusted_certificate"
	ClosedAfterHandshake = "closed_after_handshake"
	PlaintextUpstream    = "plaintext_upstream"
	NoResponse           = "no_response"
	ServerRefused        = "server_refused"
	ClientRefused        = "client_refused"
)

// Severities.
const (
	SeverityError   = "error"   // the handshake failed
	SeverityWarning = "warning" // it worked, but something is latent or wrong
)

// Finding is one diagnosed problem of a handshake.
type Finding struct {
	ID       string   // one of FindingIDs
	Severity string   // SeverityError or SeverityWarning
	Summary  string   // one plain sentence: the cause and, briefly, the fix
	Evidence []string // the facts from the capture that prove it
	Hint     string   // the primary fix, in one line
	Hints    []Hint   // the fix per client software
	NginxLog string   // the nginx error-log line that goes with it, "" if none
}

// Hint is the fix for one client software.
type Hint struct {
	Client string // "nginx", "haproxy", "envoy", "curl" or "go"
	Text   string
}

// FindingIDs returns the closed set of finding IDs, for metric labels. The
// caller owns the returned slice.
func FindingIDs() []string {
	return []string{MissingSNI, MissingSNIResumed, UnknownName, SNIIsIP, VersionMismatch,
		NoSharedCipher, UntrustedCertificate, ClosedAfterHandshake, PlaintextUpstream,
		NoResponse, ServerRefused, ClientRefused}
}

// Diagnose returns the findings of one handshake, most important first, or
// nil when nothing is wrong. It never modifies h. The caller owns the
// returned slice.
//
// Choices where the spec leaves room:
//   - A fatal handshake_failure (40) from the server before any ServerHello
//     is missing_sni when the hello had no SNI. With SNI present it is
//     no_shared_cipher (some SNI routers also answer 40 for a name they do
//     not know; the finding says so), except when the client offered nothing
//     newer than TLS 1.1, which is version_mismatch.
//   - unrecognized_name (112) with SNI present is unknown_name.
//   - RST, FIN or an unexplained alert from the server with SNI present is
//     server_refused; an unexplained client alert is client_refused.
//   - A silent server with no SNI yields missing_sni then no_response.
//   - incomplete handshakes get no failure finding (only sni_is_ip).
func Diagnose(h *handshake.Handshake) []Finding {
	if h == nil {
		return nil
	}
	d := diag{h: h}
	d.run()
	if d.isQUIC() {
		// nginx (and the other proxies) do not speak QUIC to upstreams:
		// their TLS-over-TCP error-log lines and proxy settings would be
		// false here; HTTP/3 clients take the SNI from the URL's host.
		for i := range d.fs {
			d.fs[i].NginxLog = ""
			if id := d.fs[i].ID; id == MissingSNI || id == MissingSNIResumed {
				d.fs[i].Hint = quicSNIHint
				d.fs[i].Hints = slices.Clone(quicSNIHints)
			}
		}
	}
	return d.fs
}

type diag struct {
	h  *handshake.Handshake
	fs []Finding
}

func (d *diag) add(f Finding) { d.fs = append(d.fs, f) }

func (d *diag) run() {
	h := d.h
	sa := firstPlain(h, handshake.SideServer)
	ca := firstPlain(h, handshake.SideClient)
	failed := !h.Established() && h.Outcome != handshake.OutcomeIncomplete

	switch {
	case h.Outcome == handshake.OutcomeNotTLS:
		d.plaintext()
	case anyAlert(h, tlsparse.AlertProtocolVersion) && !h.Established():
		d.versionAlert()
	case h.Outcome == handshake.OutcomeServerAlert && sa != nil && !h.ServerHelloSeen:
		d.serverAlertBeforeHello(sa)
	case h.Outcome == handshake.OutcomeServerAlert && sa != nil:
		d.serverRefusedAlert(sa)
	case h.Outcome == handshake.OutcomeClientAlert && ca != nil:
		d.clientAlert(ca)
	case h.Outcome == handshake.OutcomeServerAlert:
		d.serverRefusedAlert(firstAny(h, handshake.SideServer))
	case h.Outcome == handshake.OutcomeClientAlert:
		d.clientRefused(firstAny(h, handshake.SideClient))
	case (h.Outcome == handshake.OutcomeServerReset || h.Outcome == handshake.OutcomeServerClosed) && h.ServerHelloSeen:
		// The server hung up after its ServerHello: if the client had
		// aborted first, that is the story.
		switch enc := firstAny(h, handshake.SideClient); {
		case ca != nil:
			d.clientAlert(ca)
		case enc != nil:
			d.clientRefused(enc)
		default:
			d.serverDropped()
		}
	case d.quicVersionRefused():
		d.quicVersionMismatch()
	case h.Outcome == handshake.OutcomeServerReset, h.Outcome == handshake.OutcomeServerClosed:
		if noSNI(h) {
			d.missingSNI(nil)
		} else {
			d.serverDropped()
		}
	case h.Outcome == handshake.OutcomeNoResponse:
		if noSNI(h) {
			d.missingSNI(nil)
		}
		d.noResponse()
	case h.Established():
		if noSNI(h) && h.Resumed {
			d.missingSNIResumed()
		}
		d.closedAfterHandshake()
	}

	if h.HasSNI && h.SNIIsIP {
		f := d.sniIsIP(failed)
		// On a refusal before any ServerHello the IP literal is the likely
		// reason the name was unknown, so it goes first.
		if failed && !h.ServerHelloSeen && len(d.fs) > 0 &&
			(d.fs[0].ID == UnknownName || d.fs[0].ID == ServerRefused || d.fs[0].ID == NoSharedCipher) {
			d.fs = slices.Insert(d.fs, 0, f)
		} else {
			d.add(f)
		}
	}
}

// HelloDecoded reports whether h's ClientHello was parsed (it may have been
// lost to a capture gap): without it nobody can say the SNI was missing.
func HelloDecoded(h *handshake.Handshake) bool {
	return h.HasSNI || len(h.ClientVersions) > 0 || h.ClientLegacyVer != 0 || h.JA3 != ""
}

// noSNI reports whether the ClientHello is known to carry no SNI.
func noSNI(h *handshake.Handshake) bool { return !h.HasSNI && HelloDecoded(h) }

// firstPlain returns the first plaintext alert sent by side, or nil.
func firstPlain(h *handshake.Handshake, side handshake.Side) *handshake.AlertRecord {
	for i := range h.Alerts {
		if a := &h.Alerts[i]; a.Sender == side && !a.Encrypted {
			return a
		}
	}
	return nil
}

// firstAny returns the first alert (encrypted or not) sent by side, or nil.
func firstAny(h *handshake.Handshake, side handshake.Side) *handshake.AlertRecord {
	for i := range h.Alerts {
		if a := &h.Alerts[i]; a.Sender == side {
			return a
		}
	}
	return nil
}

func anyAlert(h *handshake.Handshake, d tlsparse.AlertDescription) bool {
	for _, a := range h.Alerts {
		if !a.Encrypted && a.Description == d {
			return true
		}
	}
	return false
}

// ---- evidence helpers ----

// fmtDur renders a duration for people: "0.4 ms", "12.3 ms", "1.52 s".
func fmtDur(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if d < time.Second {
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + " s"
}

// since returns " 0.4 ms after the ClientHello" or "" when a time is missing.
func (d *diag) since(t time.Time) string {
	if t.IsZero() || d.h.ClientHelloTime.IsZero() {
		return ""
	}
	return ", " + fmtDur(t.Sub(d.h.ClientHelloTime)) + " after the ClientHello"
}

func levelWord(l tlsparse.AlertLevel) string {
	if l == tlsparse.AlertLevelWarning || l == tlsparse.AlertLevelFatal {
		return l.String()
	}
	return "level-" + strconv.Itoa(int(l))
}

// alertEvidence: "server sent fatal alert handshake_failure (40) in packet 6, 0.4 ms after the ClientHello".
func (d *diag) alertEvidence(a *handshake.AlertRecord) string {
	s := a.Sender.String() + " sent " + levelWord(a.Level) + " alert " + alertLabel(a.Description)
	switch {
	case a.Encrypted:
		s = a.Sender.String() + " sent an encrypted alert"
	case d.isQUIC():
		s = d.quicAlertEvidence(a)
	}
	if a.Packet > 0 {
		s += " in packet " + strconv.FormatUint(a.Packet, 10)
	}
	return s + d.since(a.Time)
}

func (d *diag) helloEvidence() []string {
	h := d.h
	var ev []string
	switch {
	case h.HasSNI:
		ev = append(ev, "ClientHello server_name is "+strconv.Quote(h.ServerName))
	case !HelloDecoded(h):
		msg := "the ClientHello could not be decoded"
		if h.ClientHelloError != "" {
			msg += " (" + strconv.Quote(h.ClientHelloError) + ")"
		}
		ev = append(ev, msg)
	default:
		ev = append(ev, "ClientHello has no server_name extension")
	}
	if len(h.ClientVersions) > 0 {
		ev = append(ev, "client offered "+joinVersions(h.ClientVersions))
	}
	if h.FirstPacket > 0 {
		ev[0] += " (flow starts at packet " + strconv.FormatUint(h.FirstPacket, 10) + ")"
	}
	return ev
}

func noServerHello(ev []string) []string {
	return append(ev, "no ServerHello was sent")
}

// ---- hints ----

var sniHints = []Hint{
	{"nginx", "add `proxy_ssl_server_name on;` (and `proxy_ssl_name <host>;` when proxy_pass names an IP address: nginx sends no SNI for an IP)"},
	{"haproxy", "add `sni req.hdr(host)` (or `sni str(<host>)`) to the `server` line"},
	{"envoy", "set `sni: <host>` in the cluster's UpstreamTlsContext (or `auto_sni: true` in upstream_http_protocol_options)"},
	{"curl", "use the host name in the URL and pin the address with `--resolve <host>:443:<ip>` or `--connect-to`, not an IP in the URL"},
	{"go", "set `tls.Config.ServerName` to the host name (an IP address sends no SNI)"},
}

// quicSNIHints are the SNI fixes for HTTP/3 clients.
var quicSNIHints = []Hint{
	{"curl", "use the host name in the URL with `--http3` and pin the address with `--resolve <host>:443:<ip>`, not an IP in the URL"},
	{"go", "set `tls.Config.ServerName` to the host name in the quic-go / http3 transport (an IP address sends no SNI)"},
	{"envoy", "set `sni: <host>` in the UpstreamTlsContext of the cluster's QuicUpstreamTransport"},
}

const quicSNIHint = "use the host name, not an IP address, as the HTTP/3 client's target so that it is sent as SNI (browsers and curl `--http3` take it from the URL; Go: `tls.Config.ServerName`)"

const sniHint = "nginx: add `proxy_ssl_server_name on;` (and `proxy_ssl_name <host>;` when proxy_pass names an IP address)"

func (d *diag) missingSNI(a *handshake.AlertRecord) {
	h := d.h
	ev := d.helloEvidence()
	var how, log string
	switch {
	case a != nil:
		how = "the server refused it with " + d.alertWords(a)
		ev = append(ev, d.alertEvidence(a))
		log = nginxAlertLog(a.Description)
		if a.Description == tlsparse.AlertInternalError {
			ev = append(ev, "internal_error (80) before any ServerHello is what Go crypto/tls servers (Caddy) send when no certificate matches an absent name")
		}
	case d.isQUIC() && (h.Outcome == handshake.OutcomeServerReset || h.Outcome == handshake.OutcomeServerClosed):
		how = "the server closed the connection with " + d.quicCloseWords()
		ev = append(ev, d.quicCloseEvidence(handshake.SideServer))
	case d.isQUIC():
		how = "the server never answered (no Initial packet)"
		ev = append(ev, d.quicNoAnswer()...)
	case h.Outcome == handshake.OutcomeServerReset:
		how = "the server reset the connection (RST)"
		ev = append(ev, "server sent RST"+d.since(h.FirstAnswerTime))
		log = "peer closed connection in SSL handshake (104: Connection reset by peer) while SSL handshaking to upstream"
	case h.Outcome == handshake.OutcomeServerClosed:
		how = "the server closed the connection (FIN) without a word"
		ev = append(ev, "server sent FIN with no TLS data"+d.since(h.FirstAnswerTime))
		log = "peer closed connection in SSL handshake while SSL handshaking to upstream"
	default:
		how = "the server never answered (silence)"
		ev = append(ev, "no answer from the server"+waited(h))
		log = "upstream timed out (110: Connection timed out) while SSL handshaking to upstream"
	}
	ev = noServerHello(ev)
	d.add(Finding{
		ID:       MissingSNI,
		Severity: SeverityError,
		Summary:  "The ClientHello carried no SNI (server_name) and " + how + " before any ServerHello; send the host name as SNI.",
		Evidence: ev,
		Hint:     sniHint,
		Hints:    slices.Clone(sniHints),
		NginxLog: log,
	})
}

func waited(h *handshake.Handshake) string {
	if h.EndTime.IsZero() || h.ClientHelloTime.IsZero() {
		return ""
	}
	return " for " + fmtDur(h.EndTime.Sub(h.ClientHelloTime)) + " after the ClientHello"
}

func (d *diag) missingSNIResumed() {
	h := d.h
	ev := d.helloEvidence()
	var offered []string
	if h.OffersPSK {
		offered = append(offered, "a TLS 1.3 pre_shared_key")
	}
	if h.OffersTicket {
		offered = append(offered, "a session ticket")
	}
	if h.SessionIDLen > 0 && !h.OffersPSK && !h.OffersTicket {
		offered = append(offered, "a "+strconv.Itoa(h.SessionIDLen)+"-byte session id")
	}
	if len(offered) > 0 {
		ev = append(ev, "ClientHello offered "+strings.Join(offered, " and "))
	}
	ev = append(ev, "server resumed the session (abbreviated handshake)")
	d.add(Finding{
		ID:       MissingSNIResumed,
		Severity: SeverityWarning,
		Summary:  "The ClientHello carried no SNI and succeeded only because the server resumed a stored session; it will fail once the session expires, so send the host name as SNI now.",
		Evidence: ev,
		Hint:     sniHint,
		Hints:    slices.Clone(sniHints),
	})
}

func (d *diag) serverAlertBeforeHello(a *handshake.AlertRecord) {
	h := d.h
	switch {
	case !HelloDecoded(h):
		d.serverRefusedAlert(a)
	case noSNI(h) && (a.Description == tlsparse.AlertHandshakeFailure || a.Description == tlsparse.AlertUnrecognizedName || a.Description == tlsparse.AlertInternalError):
		d.missingSNI(a)
	case a.Description == tlsparse.AlertUnrecognizedName:
		d.unknownName(a)
	case a.Description == tlsparse.AlertHandshakeFailure && maxOffered(h) != 0 && maxOffered(h) < tlsparse.VersionTLS12:
		d.versionRefused(a)
	case a.Description == tlsparse.AlertHandshakeFailure:
		d.noSharedCipher(a)
	default:
		d.serverRefusedAlert(a)
	}
}

func (d *diag) unknownName(a *handshake.AlertRecord) {
	h := d.h
	ev := append(d.helloEvidence(), d.alertEvidence(a))
	if h.SNIInvalid {
		ev = append(ev, "the SNI is not a valid DNS host name")
	}
	ev = noServerHello(ev)
	d.add(Finding{
		ID:       UnknownName,
		Severity: SeverityError,
		Summary:  "The server does not serve the name " + strconv.Quote(h.ServerName) + " and refused it with " + d.alertWords(a) + " before any ServerHello; send a name the upstream has a certificate for.",
		Evidence: ev,
		Hint:     "the upstream does not serve that name: check `proxy_ssl_name` (nginx) or the SNI your client sends",
		Hints: []Hint{
			{"nginx", "set `proxy_ssl_name <host the upstream serves>;` (the default is the proxy_pass host)"},
			{"haproxy", "fix `sni str(<host>)` / `sni req.hdr(host)` on the `server` line"},
			{"envoy", "fix `sni` in UpstreamTlsContext"},
			{"curl", "connect with the served host name (`--resolve`/`--connect-to` to pin the address)"},
			{"go", "set `tls.Config.ServerName` to a name the server serves"},
		},
		NginxLog: nginxAlertLog(tlsparse.AlertUnrecognizedName),
	})
}

func (d *diag) noSharedCipher(a *handshake.AlertRecord) {
	h := d.h
	ev := append(d.helloEvidence(), d.alertEvidence(a))
	if h.CipherCount > 0 {
		ev = append(ev, "client offered "+strconv.Itoa(h.CipherCount)+" cipher suites")
	}
	ev = noServerHello(ev)
	ev = append(ev, "SNI was present, so the refusal is not about a missing name; some SNI routers also send 40 for a name they have no certificate for")
	d.add(Finding{
		ID:       NoSharedCipher,
		Severity: SeverityError,
		Summary:  "The server refused the ClientHello with " + d.alertWords(a) + " before any ServerHello although SNI was present, which means no shared cipher suite, group or signature algorithm (or no certificate for that name).",
		Evidence: ev,
		Hint:     "align the cipher/group lists: nginx `proxy_ssl_ciphers`, HAProxy `ciphers`/`ciphersuites` on the server line; check the upstream's certificate for that name",
		Hints: []Hint{
			{"nginx", "set `proxy_ssl_ciphers` (and `proxy_ssl_conf_command Groups ...`) to include one the upstream accepts"},
			{"haproxy", "set `ciphers` / `ciphersuites` / `curves` on the `server` line"},
			{"envoy", "set `tls_params.cipher_suites` / `ecdh_curves` in UpstreamTlsContext"},
			{"curl", "try `--ciphers` / `--tls13-ciphers` / `--curves`"},
			{"go", "check `tls.Config.CipherSuites` / `CurvePreferences`"},
		},
		NginxLog: nginxAlertLog(tlsparse.AlertHandshakeFailure),
	})
}

// maxOffered returns the highest of SSL 3.0 to TLS 1.3 the client offered
// (drafts and DTLS left out), else its legacy version; 0 if unknown.
func maxOffered(h *handshake.Handshake) tlsparse.Version {
	var m tlsparse.Version
	for _, v := range h.ClientVersions {
		if v >= tlsparse.VersionSSL30 && v <= tlsparse.VersionTLS13 && v > m {
			m = v
		}
	}
	if m == 0 {
		m = h.ClientLegacyVer
	}
	return m
}

// joinVersions renders offered versions as "TLS 1.3, TLS 1.2".
func joinVersions(vs []tlsparse.Version) string {
	var b strings.Builder
	for i, v := range vs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(v.String())
	}
	return b.String()
}

var versionHints = []Hint{
	{"nginx", "set `proxy_ssl_protocols TLSv1.2 TLSv1.3;` (nginx before 1.23.4 offers only TLSv1–1.2 by default)"},
	{"haproxy", "set `ssl-min-ver TLSv1.2` / `ssl-max-ver TLSv1.3` on the `server` line"},
	{"envoy", "set `tls_params.tls_minimum_protocol_version` / `tls_maximum_protocol_version`"},
	{"curl", "use `--tlsv1.2` / `--tls-max 1.3` to match the server"},
	{"go", "set `tls.Config.MinVersion` / `MaxVersion`"},
}

const versionHint = "nginx: `proxy_ssl_protocols TLSv1.2 TLSv1.3;`; HAProxy: `ssl-min-ver` / `ssl-max-ver` on the server line"

// versionAlert: protocol_version (70) from either side.
func (d *diag) versionAlert() {
	h := d.h
	var a *handshake.AlertRecord
	for i := range h.Alerts {
		if !h.Alerts[i].Encrypted && h.Alerts[i].Description == tlsparse.AlertProtocolVersion {
			a = &h.Alerts[i]
			break
		}
	}
	if a.Sender == handshake.SideClient {
		d.clientRefusedVersion(a)
		return
	}
	d.versionRefused(a)
}

// versionRefused: the server refused every version the client offered.
func (d *diag) versionRefused(a *handshake.AlertRecord) {
	h := d.h
	ev := append(d.helloEvidence(), d.alertEvidence(a))
	if !slices.Contains(h.ClientVersions, tlsparse.VersionTLS13) {
		ev = append(ev, "the ClientHello offered no TLS 1.3 (no supported_versions extension)")
	}
	if !h.ServerHelloSeen {
		ev = noServerHello(ev)
	}
	offered := joinVersions(h.ClientVersions)
	if offered == "" {
		offered = "its versions"
	}
	d.add(Finding{
		ID:       VersionMismatch,
		Severity: SeverityError,
		Summary:  "The server accepts none of the TLS versions the client offered (" + offered + ") and refused the hello with " + d.alertWords(a) + "; enable a version both sides support.",
		Evidence: ev,
		Hint:     versionHint,
		Hints:    slices.Clone(versionHints),
		NginxLog: nginxAlertLog(a.Description),
	})
}

// clientRefusedVersion: the client refused the version in the ServerHello.
func (d *diag) clientRefusedVersion(a *handshake.AlertRecord) {
	h := d.h
	ev := d.helloEvidence()
	v := "an unknown version"
	if h.Version != 0 {
		v = h.Version.String()
	}
	if h.ServerHelloSeen {
		ev = append(ev, "server's ServerHello chose "+v)
	}
	ev = append(ev, d.alertEvidence(a))
	if a.Description == tlsparse.AlertInternalError {
		ev = append(ev, "OpenSSL clients (curl) answer a version they refuse with internal_error (80), not protocol_version (70)")
	}
	d.add(Finding{
		ID:       VersionMismatch,
		Severity: SeverityError,
		Summary:  "The server chose " + v + ", which the client does not accept, and the client aborted with " + d.alertWords(a) + "; upgrade the server or widen the client's versions.",
		Evidence: ev,
		Hint:     versionHint,
		Hints:    slices.Clone(versionHints),
		NginxLog: "SSL_do_handshake() failed (SSL: error:0A000102:SSL routines::unsupported protocol) while SSL handshaking to upstream",
	})
}

func (d *diag) clientAlert(a *handshake.AlertRecord) {
	h := d.h
	switch {
	case isCertAlert(a.Description):
		d.untrusted(a)
	case h.ServerHelloSeen && h.Version != 0 && len(h.ClientVersions) > 0 && !slices.Contains(h.ClientVersions, h.Version):
		d.clientRefusedVersion(a)
	case h.ServerHelloSeen && a.Description == tlsparse.AlertInternalError && h.Version != 0 && h.Version < tlsparse.VersionTLS12:
		// curl offers TLS 1.0 in the legacy field but refuses it.
		d.clientRefusedVersion(a)
	default:
		d.clientRefused(a)
	}
}

func isCertAlert(d tlsparse.AlertDescription) bool {
	switch d {
	case tlsparse.AlertBadCertificate, tlsparse.AlertUnsupportedCertificate, tlsparse.AlertCertificateRevoked,
		tlsparse.AlertCertificateExpired, tlsparse.AlertCertificateUnknown, tlsparse.AlertUnknownCA:
		return true
	}
	return false
}

var certWhy = map[tlsparse.AlertDescription]string{
	tlsparse.AlertBadCertificate:         "it rejected the certificate (bad_certificate: Go clients say this for an unknown CA or name mismatch)",
	tlsparse.AlertUnsupportedCertificate: "the certificate type is not supported",
	tlsparse.AlertCertificateRevoked:     "the certificate was revoked",
	tlsparse.AlertCertificateExpired:     "the certificate has expired",
	tlsparse.AlertCertificateUnknown:     "it could not verify the certificate",
	tlsparse.AlertUnknownCA:              "the certificate chain does not lead to a CA it trusts",
}

func (d *diag) untrusted(a *handshake.AlertRecord) {
	h := d.h
	ev := d.helloEvidence()
	if h.ServerHelloSeen && h.Version != 0 {
		ev = append(ev, "server answered with a "+h.Version.String()+" ServerHello")
	}
	ev = append(ev, d.alertEvidence(a))
	if c := h.Cert; c != nil {
		ev = append(ev, "server certificate subject "+strconv.Quote(c.Subject)+", issuer "+strconv.Quote(c.Issuer)+", chain of "+strconv.Itoa(c.ChainLen))
		if !c.NotAfter.IsZero() && !h.ClientHelloTime.IsZero() && c.NotAfter.Before(h.ClientHelloTime) {
			ev = append(ev, "certificate expired at "+c.NotAfter.UTC().Format(time.RFC3339))
		}
		if c.Subject == c.Issuer && c.Subject != "" {
			ev = append(ev, "the certificate is self-signed")
		}
	}
	hint := "make the client trust the server's CA: nginx `proxy_ssl_trusted_certificate <ca.pem>;` with `proxy_ssl_verify on;`"
	log := "upstream SSL certificate verify error: (20:unable to get local issuer certificate) while SSL handshaking to upstream"
	switch a.Description {
	case tlsparse.AlertCertificateExpired:
		hint = "renew the upstream's certificate (it has expired)"
		log = "upstream SSL certificate verify error: (10:certificate has expired) while SSL handshaking to upstream"
	case tlsparse.AlertCertificateRevoked:
		hint = "replace the upstream's revoked certificate"
		log = "upstream SSL certificate verify error: (23:certificate revoked) while SSL handshaking to upstream"
	}
	d.add(Finding{
		ID:       UntrustedCertificate,
		Severity: SeverityError,
		Summary:  "The client aborted the handshake with " + d.alertWords(a) + " because " + certWhy[a.Description] + "; fix the certificate or the client's trust store.",
		Evidence: ev,
		Hint:     hint,
		Hints: []Hint{
			{"nginx", "set `proxy_ssl_trusted_certificate <ca.pem>;` (and `proxy_ssl_verify_depth`), or renew the upstream certificate"},
			{"haproxy", "set `verify required ca-file <ca.pem>` on the `server` line (and `verifyhost <host>`)"},
			{"envoy", "set `validation_context.trusted_ca` in UpstreamTlsContext"},
			{"curl", "pass `--cacert <ca.pem>` (or renew the server certificate)"},
			{"go", "add the CA to `tls.Config.RootCAs`"},
		},
		NginxLog: log,
	})
}

func (d *diag) clientRefused(a *handshake.AlertRecord) {
	ev := d.helloEvidence()
	if d.h.ServerHelloSeen {
		ev = append(ev, "server answered with a ServerHello")
	}
	summary := "The client aborted the handshake after the server's answer; compare the client's TLS settings with what the server sent."
	hint := "check the client's TLS settings against the server's (versions, ciphers, ALPN, extensions)"
	var hints []Hint
	switch {
	case a == nil:
		ev = append(ev, "the alert itself was not captured")
	case a.Encrypted && d.isQUIC():
		ev = append(ev, d.alertEvidence(a))
	case a.Encrypted:
		ev = append(ev, d.alertEvidence(a)+" and no request",
			"Go clients encrypt their certificate alerts (bad_certificate) in TLS 1.3: ServerHello, one encrypted record, FIN")
		summary = "The client aborted the handshake with an encrypted alert right after the ServerHello, which is how a Go client rejects the server's certificate (bad_certificate, encrypted in TLS 1.3)."
		hint = "make the client trust the server's certificate: Go `tls.Config.RootCAs` and `ServerName`"
		hints = []Hint{
			{"go", "add the CA to `tls.Config.RootCAs` and set `ServerName` to a name on the certificate"},
			{"nginx", "set `proxy_ssl_trusted_certificate <ca.pem>;` and `proxy_ssl_name <host>;`"},
			{"curl", "pass `--cacert <ca.pem>`"},
		}
	default:
		summary = "The client aborted the handshake with " + d.alertWords(a) + " after the server's answer; compare the client's TLS settings with what the server sent."
		ev = append(ev, d.alertEvidence(a))
	}
	d.add(Finding{
		ID:       ClientRefused,
		Severity: SeverityError,
		Summary:  summary,
		Evidence: ev,
		Hint:     hint,
		Hints:    hints,
	})
}

func (d *diag) serverRefusedAlert(a *handshake.AlertRecord) {
	h := d.h
	ev := d.helloEvidence()
	if h.ServerHelloSeen {
		ev = append(ev, "server had sent a ServerHello")
	} else {
		ev = noServerHello(ev)
	}
	hint := "check the server's log for why it refused this client"
	if a == nil || a.Encrypted {
		what := "an alert that was not captured"
		if a != nil {
			what = "an encrypted alert"
			ev = append(ev, d.alertEvidence(a))
		}
		d.add(Finding{
			ID:       ServerRefused,
			Severity: SeverityError,
			Summary:  "The server aborted the handshake with " + what + ".",
			Evidence: ev,
			Hint:     hint,
		})
		return
	}
	ev = append(ev, d.alertEvidence(a))
	switch a.Description {
	case tlsparse.AlertCertificateRequired:
		hint = "the server requires a client certificate: nginx `proxy_ssl_certificate` / `proxy_ssl_certificate_key`"
	case tlsparse.AlertNoApplicationProtocol:
		hint = "no ALPN protocol in common: check the protocols the client offers"
	case tlsparse.AlertInternalError:
		if !h.ServerHelloSeen {
			hint = "Go crypto/tls servers (Caddy) send internal_error (80) when they have no certificate for the name: check the name and the server's certificates"
		}
	}
	d.add(Finding{
		ID:       ServerRefused,
		Severity: SeverityError,
		Summary:  "The server aborted the handshake with " + d.alertWords(a) + ".",
		Evidence: ev,
		Hint:     hint,
		NginxLog: nginxAlertLog(a.Description),
	})
}

func (d *diag) serverDropped() {
	h := d.h
	ev := d.helloEvidence()
	what, log := "RST", "peer closed connection in SSL handshake (104: Connection reset by peer) while SSL handshaking to upstream"
	if h.Outcome == handshake.OutcomeServerClosed {
		what, log = "FIN", "peer closed connection in SSL handshake while SSL handshaking to upstream"
	}
	summary := "The server closed the connection (" + what + ") right after the ClientHello without any TLS answer; it refuses this hello or is not a TLS server."
	switch {
	case d.isQUIC() && h.ServerHelloSeen:
		ev = append(ev, "server sent a ServerHello, then closed the connection before the handshake finished", d.quicCloseEvidence(handshake.SideServer))
		summary = "The server closed the connection with " + d.quicCloseWords() + " in the middle of the handshake, after its ServerHello; check the server's log for the reason."
	case d.isQUIC():
		ev = append(ev, d.quicCloseEvidence(handshake.SideServer)+d.since(h.FirstAnswerTime))
		ev = noServerHello(ev)
		summary = "The server closed the connection with " + d.quicCloseWords() + " right after the ClientHello without any TLS answer; it refuses this hello."
	case h.ServerHelloSeen:
		ev = append(ev, "server sent a ServerHello, then "+what+" before the handshake finished")
		summary = "The server closed the connection (" + what + ") in the middle of the handshake, after its ServerHello; check the server's log for the reason."
	default:
		ev = append(ev, "server sent "+what+" with no TLS answer"+d.since(h.FirstAnswerTime))
		ev = noServerHello(ev)
	}
	d.add(Finding{
		ID:       ServerRefused,
		Severity: SeverityError,
		Summary:  summary,
		Evidence: ev,
		Hint:     "check the upstream's TLS configuration and logs (SNI allow-lists, versions, a TLS-terminating load balancer)",
		NginxLog: log,
	})
}

func (d *diag) noResponse() {
	h := d.h
	ev := d.helloEvidence()
	if d.isQUIC() {
		d.add(Finding{
			ID:       NoResponse,
			Severity: SeverityError,
			Summary:  "The server sent no Initial packet in answer to the ClientHello within the timeout; the client will time out (browsers then fall back to HTTP/2 or HTTP/1.1).",
			Evidence: append(ev, d.quicNoAnswer()...),
			Hint:     "check that firewalls pass UDP to this port and that a QUIC (HTTP/3) server listens on it",
		})
		return
	}
	ev = append(ev, "no answer from the server"+waited(h))
	ev = append(ev, "the TCP connection was open (the ClientHello went over it), so the port accepts connections but nothing answered the hello")
	d.add(Finding{
		ID:       NoResponse,
		Severity: SeverityError,
		Summary:  "The server never answered the ClientHello; the client will time out (nginx answers 504).",
		Evidence: ev,
		Hint:     "check firewalls and that the port speaks TLS; nginx: `proxy_connect_timeout` only bounds the wait",
		NginxLog: "upstream timed out (110: Connection timed out) while SSL handshaking to upstream",
	})
}

func (d *diag) closedAfterHandshake() {
	h := d.h
	if h.ClientDataSent || h.EndedBy != handshake.SideClient || !(h.ClientFIN || h.ClientRST) || d.isQUIC() {
		// A QUIC client's close after the handshake is encrypted: not seen.
		return
	}
	ev := d.helloEvidence()
	v := "TLS"
	if h.Version != 0 {
		v = h.Version.String()
	}
	ev = append(ev, "the "+v+" handshake completed")
	how := "FIN"
	if h.ClientRST {
		how = "RST"
	}
	ev = append(ev, "client closed the connection ("+how+") without sending application data"+d.since(h.EndTime))
	for i := range h.Alerts {
		if a := &h.Alerts[i]; a.Sender == handshake.SideClient && a.Encrypted {
			ev = append(ev, "client sent an encrypted alert (close_notify, or Go's encrypted bad_certificate)"+d.since(a.Time))
			break
		}
	}
	if h.Resumed {
		ev = append(ev, "the session was resumed: nginx keeps the verify error of the resumed session")
	}
	d.add(Finding{
		ID:       ClosedAfterHandshake,
		Severity: SeverityError,
		Summary:  "The handshake completed but the client closed the connection at once without sending a request, which is how a client-side certificate verification failure looks (nginx `proxy_ssl_verify on;` sends no alert).",
		Evidence: ev,
		Hint:     "nginx: check `proxy_ssl_trusted_certificate` and `proxy_ssl_name` for `proxy_ssl_verify on;`; the nginx error log names the verify error",
		Hints: []Hint{
			{"nginx", "set `proxy_ssl_trusted_certificate <ca.pem>;` and `proxy_ssl_name <host>;` to match the certificate"},
			{"haproxy", "set `ca-file` and `verifyhost` on the `server` line"},
			{"envoy", "check `validation_context` (trusted_ca, match_typed_subject_alt_names)"},
			{"curl", "the host name does not match the certificate: use the right name, `--cacert` for the CA"},
			{"go", "add the CA to `tls.Config.RootCAs` and set `ServerName` to a name on the certificate"},
		},
		NginxLog: "upstream SSL certificate verify error: (19:self-signed certificate in certificate chain) while SSL handshaking to upstream",
	})
}

func (d *diag) plaintext() {
	h := d.h
	ev := d.helloEvidence()
	q := strconv.Quote(string(h.NotTLSPrefix))
	ev = append(ev, "server answered with non-TLS bytes "+q+d.since(h.FirstAnswerTime))
	what := "plain text"
	p := string(h.NotTLSPrefix)
	switch {
	case strings.HasPrefix(p, "HTTP/"):
		what = "plain HTTP"
	case strings.HasPrefix(p, "SSH-"):
		what = "SSH"
	case strings.HasPrefix(p, "220"):
		what = "an SMTP/FTP banner"
	}
	d.add(Finding{
		ID:       PlaintextUpstream,
		Severity: SeverityError,
		Summary:  "The server answered the ClientHello with " + what + " (" + q + "), not TLS: the client speaks TLS to a plaintext port.",
		Evidence: ev,
		Hint:     "use `proxy_pass http://` for a plaintext upstream, or point it at the TLS port",
		Hints: []Hint{
			{"nginx", "use `proxy_pass http://...` or the upstream's TLS port"},
			{"haproxy", "drop `ssl` from the `server` line, or use the TLS port"},
			{"envoy", "remove the cluster's `transport_socket` or use the TLS port"},
			{"curl", "use `http://` or the TLS port"},
			{"go", "use `http://` (or plain net.Dial) or the TLS port"},
		},
		NginxLog: "SSL_do_handshake() failed (SSL: error:0A00010B:SSL routines::wrong version number) while SSL handshaking to upstream",
	})
}

func (d *diag) sniIsIP(failed bool) Finding {
	sev, sum := SeverityWarning, "The SNI is the IP address "+strconv.Quote(d.h.ServerName)+", which RFC 6066 forbids; servers may refuse it, so send a host name."
	if failed {
		sev, sum = SeverityError, "The SNI is the IP address "+strconv.Quote(d.h.ServerName)+", which RFC 6066 forbids and servers do not serve; send a host name."
	}
	return Finding{
		ID:       SNIIsIP,
		Severity: sev,
		Summary:  sum,
		Evidence: []string{"ClientHello server_name is " + strconv.Quote(d.h.ServerName) + ", an IP literal"},
		Hint:     "send a host name as SNI: nginx `proxy_ssl_name <host>;`",
		Hints: []Hint{
			{"nginx", "set `proxy_ssl_name <host>;`"},
			{"haproxy", "use `sni str(<host>)` on the `server` line"},
			{"envoy", "set `sni: <host>` in UpstreamTlsContext"},
			{"curl", "use the host name in the URL with `--resolve`"},
			{"go", "set `tls.Config.ServerName` to a host name"},
		},
	}
}
