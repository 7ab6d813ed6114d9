// Package diagnose turns a finished handshake.Handshake into findings: the
// cause of a failed (or latently fragile) TLS handshake, the evidence that
// proves it, and the fix for the common clients (nginx, HAProxy, Envoy, curl,
// Go). It is a set of pure functions: no I/O, no clocks, no globals that
// change.
package diagnose

import (
	"slices"

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
	MiddleboxReset       = "middlebox_reset"
	// Beyond the missing SNI: client certificates, the server's
	// certificate, ALPN.
	ClientCertificateRequired = "client_certificate_required"
	ClientCertificateRejected = "client_certificate_rejected"
	CertificateNameMismatch   = "certificate_name_mismatch"
	CertificateExpired        = "certificate_expired"
	CertificateNotYetValid    = "certificate_not_yet_valid"
	ALPNMismatch              = "alpn_mismatch"
	// LargeHelloDropped needs other handshakes to the same server: the
	// stage after diagnose (package across) adds it.
	LargeHelloDropped = "large_hello_dropped"
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
		NoResponse, ServerRefused, ClientRefused, MiddleboxReset, LargeHelloDropped,
		ClientCertificateRequired, ClientCertificateRejected, CertificateNameMismatch, CertificateExpired,
		CertificateNotYetValid, ALPNMismatch}
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
	case d.clientCertificate(), d.alpn():
		// (each adds its finding when it applies)
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

	// The server's certificate as the client judged it (TLS <= 1.2 shows
	// it): its problems are the cause when the client refused it.
	if cps := d.certificateProblems(); len(cps) > 0 {
		if cps[0].Severity == SeverityError {
			d.fs = slices.Insert(d.fs, 0, cps...)
		} else {
			d.fs = append(d.fs, cps...)
		}
	}
	// An OpenSSL client's certificate_expired (45), even under TLS 1.3
	// where the certificate itself is not seen, names the cause.
	if ca := firstPlain(h, handshake.SideClient); ca != nil && ca.Description == tlsparse.AlertCertificateExpired && !h.Established() &&
		!slices.ContainsFunc(d.fs, func(f Finding) bool { return f.ID == CertificateExpired }) {
		d.fs = slices.Insert(d.fs, 0, d.expiredByAlert(ca))
	}
	// A TLS <= 1.2 server that asked for a client certificate and got an
	// empty one, and went on: nginx `ssl_verify_client on` answers HTTP
	// 400 inside the connection.
	if h.Established() && h.CertRequested && h.ClientCert == handshake.ClientCertEmpty {
		d.add(d.clientCertNotSent())
	}
	// No SNI, and the client refused the certificate it got: the server's
	// default one (nginx `proxy_ssl_verify on` closes silently).
	if noSNI(h) && h.ServerHelloSeen && d.clientRejected() && !slices.ContainsFunc(d.fs, func(f Finding) bool { return f.ID == MissingSNI }) {
		d.fs = slices.Insert(d.fs, 0, d.missingSNICertificate())
	}
	if f, ok := d.middlebox(); ok {
		d.fs = slices.Insert(d.fs, 0, f)
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
