package diagnose

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/tlsparse"
)

// Findings beyond the missing SNI (FIELD-NOTES, "Beyond SNI"): client
// certificates, the server's certificate as the client judged it, ALPN,
// and what TLS 1.3 hides behind encryption.

// maxEmptyCertRecord is the largest TLS 1.3 record taken for an empty
// client Certificate: an 8-byte message (header, context, empty list), the
// content type and a 16-byte tag are 25; with a certificate the record is
// hundreds of bytes.
const maxEmptyCertRecord = 40

var clientCertHints = []Hint{
	{"nginx", "give nginx a client certificate for the upstream: `proxy_ssl_certificate <cert.pem>;` and `proxy_ssl_certificate_key <key.pem>;` (grpc: `grpc_ssl_certificate`)"},
	{"haproxy", "add `crt <client.pem>` to the `server` line"},
	{"envoy", "set `common_tls_context.tls_certificates` in the cluster's UpstreamTlsContext"},
	{"curl", "pass `--cert <client.pem> --key <key.pem>`"},
	{"go", "set `tls.Config.Certificates` (or `GetClientCertificate`)"},
}

var clientCertRejectedHints = []Hint{
	{"nginx", "the upstream does not accept nginx's `proxy_ssl_certificate`: use one issued by a CA the upstream trusts (its `ssl_client_certificate`), not expired"},
	{"haproxy", "use a `crt` issued by the CA in the server's `ca-file`"},
	{"envoy", "use a client certificate the upstream's `validation_context` trusts"},
	{"curl", "`--cert` must be issued by a CA the server trusts, and not expired"},
	{"go", "`tls.Config.Certificates` must chain to a CA the server trusts"},
}

// clientCertificate adds client_certificate_required or _rejected when the
// server refused the handshake over the client's certificate; it reports
// whether it did.
func (d *diag) clientCertificate() bool {
	h := d.h
	sa := firstAny(h, handshake.SideServer)
	if sa == nil || h.Outcome != handshake.OutcomeServerAlert {
		return false
	}
	var ev []string
	id, inferred := "", false
	switch {
	case !sa.Encrypted && sa.Description == tlsparse.AlertCertificateRequired:
		id = ClientCertificateRequired
	case !sa.Encrypted && h.CertRequested && h.ClientCert == handshake.ClientCertEmpty:
		id = ClientCertificateRequired
		ev = append(ev, "server sent a CertificateRequest", "client's Certificate message was empty (it has no certificate to give)")
	case !sa.Encrypted && h.CertRequested && h.ClientCert == handshake.ClientCertSent:
		id = ClientCertificateRejected
		ev = append(ev, "server sent a CertificateRequest", "client sent its certificate")
	case sa.Encrypted && h.Version == tlsparse.VersionTLS13 && h.ClientFinished > 1 && h.ClientFinished <= len(h.ClientEncrypted):
		// TLS 1.3 encrypts the CertificateRequest, the client's Certificate
		// and the server's alert: inferred from the records' sizes.
		inferred = true
		flight := h.ClientEncrypted[:h.ClientFinished]
		ev = append(ev, "client's encrypted flight after the ServerHello: records of "+joinSizes(flight)+" bytes, the last its Finished")
		if flight[0] <= maxEmptyCertRecord {
			id = ClientCertificateRequired
			ev = append(ev, "its first record ("+strconv.Itoa(int(flight[0]))+" bytes) is the size of an empty Certificate message: the server asked for a certificate and the client had none")
		} else {
			id = ClientCertificateRejected
			ev = append(ev, "its first record ("+strconv.Itoa(int(flight[0]))+" bytes) is large enough to hold a certificate, followed by its CertificateVerify")
		}
		ev = append(ev, "server answered with one alert-sized encrypted record and closed, before any application data")
	default:
		return false
	}
	ev = append(d.helloEvidence(), ev...)
	ev = append(ev, d.alertEvidence(sa))
	f := Finding{ID: id, Severity: SeverityError}
	word := ""
	if inferred {
		word = " (inferred: TLS 1.3 encrypts the certificate messages and the alert)"
	}
	if id == ClientCertificateRequired {
		f.Summary = "The server requires a client certificate and the client sent none, so the server refused the handshake" + word + "; configure the client's certificate and key."
		f.Hint = "nginx: `proxy_ssl_certificate` + `proxy_ssl_certificate_key`; HAProxy `crt`; curl `--cert`; Go `tls.Config.Certificates`"
		f.Hints = slices.Clone(clientCertHints)
		f.NginxLog = nginxAlertLog(tlsparse.AlertHandshakeFailure)
		if h.Version == tlsparse.VersionTLS13 {
			f.NginxLog = "SSL_read() failed (SSL: error:0A00045C:SSL routines::tlsv13 alert certificate required:SSL alert number 116) while reading response header from upstream"
		}
	} else {
		f.Summary = "The client sent a certificate and the server refused it" + word + " (a CA it does not trust, or expired); use a client certificate the server accepts."
		f.Hint = "use a client certificate issued by a CA the upstream trusts, and not expired"
		f.Hints = slices.Clone(clientCertRejectedHints)
		code := tlsparse.AlertUnknownCA
		if !sa.Encrypted {
			code = sa.Description
		}
		f.NginxLog = nginxAlertLog(code)
		if h.Version == tlsparse.VersionTLS13 {
			f.NginxLog = strings.Replace(f.NginxLog, "SSL_do_handshake()", "SSL_read()", 1)
			f.NginxLog = strings.Replace(f.NginxLog, "while SSL handshaking to upstream", "while reading response header from upstream", 1)
		}
	}
	f.Evidence = ev
	d.add(f)
	return true
}

func joinSizes(s []uint16) string {
	var b strings.Builder
	for i, n := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(int(n)))
	}
	return b.String()
}

// h2Only are ALPN protocols whose clients cannot fall back to HTTP/1.1.
var h2Only = map[string]bool{"h2": true, "h2c": true, "grpc-exp": true, "h3": true}

var alpnHints = []Hint{
	{"nginx", "serve the protocol the upstream expects: `grpc_pass grpcs://` for gRPC; for an h2-only client, enable `http2` on the upstream's `listen`"},
	{"haproxy", "set `alpn h2,http/1.1` on the `server` line (gRPC: `alpn h2`), and on the bind line of an HAProxy server"},
	{"envoy", "match `alpn_protocols` / `http2_protocol_options` of the cluster with what the upstream serves"},
	{"curl", "use `--http1.1` or `--http2` to match the server"},
	{"go", "align `tls.Config.NextProtos` of client and server (gRPC needs h2)"},
}

// alpn adds alpn_mismatch when the two sides share no application protocol:
// no_application_protocol (120) from the server (QUIC: CONNECTION_CLOSE
// 0x0178), or a TLS <= 1.2 ServerHello without ALPN to a client that offered
// only h2-style protocols and then gave up. It reports whether it did.
func (d *diag) alpn() bool {
	h := d.h
	sa := firstPlain(h, handshake.SideServer)
	var ev []string
	switch {
	case sa != nil && sa.Description == tlsparse.AlertNoApplicationProtocol && !h.Established():
		ev = append(ev, d.alertEvidence(sa))
	case h.ServerHelloSeen && h.Version != 0 && h.Version <= tlsparse.VersionTLS12 && h.NextProtocol == "" && len(h.ALPN) > 0 &&
		!slices.ContainsFunc(h.ALPN, func(p string) bool { return !h2Only[p] }) && d.closedAtOnce():
		ev = append(ev, "server's ServerHello selected no ALPN protocol", "client closed without sending a request")
	default:
		return false
	}
	offered := "none"
	if len(h.ALPN) > 0 {
		offered = strconv.Quote(strings.Join(h.ALPN, ","))
	}
	ev = append(d.helloEvidence(), append([]string{"client offered ALPN " + offered}, ev...)...)
	d.add(Finding{
		ID:       ALPNMismatch,
		Severity: SeverityError,
		Summary:  "Client and server share no application protocol (ALPN): the client offered " + offered + " and the server accepts none of them; offer a protocol the server serves.",
		Evidence: ev,
		Hint:     "no ALPN protocol in common: h2-only clients (gRPC) need an upstream that serves h2; otherwise offer http/1.1 too",
		Hints:    slices.Clone(alpnHints),
		NginxLog: nginxAlertLog(tlsparse.AlertNoApplicationProtocol),
	})
	return true
}

// clientRejected reports whether the client refused the handshake after
// the server's certificate: a certificate alert (plaintext or, TLS 1.3,
// encrypted in place of its Finished), or a close at once without a
// request (nginx `proxy_ssl_verify on`, curl on a wrong name).
func (d *diag) clientRejected() bool {
	h := d.h
	if h.Outcome == handshake.OutcomeClientAlert && h.ServerHelloSeen {
		return true
	}
	if ca := firstPlain(h, handshake.SideClient); ca != nil && h.ServerHelloSeen && !h.Established() && ca.Description != tlsparse.AlertCloseNotify {
		return true
	}
	return d.closedAtOnce()
}

// closedAtOnce reports whether an established TCP handshake was closed by
// the client without a request: it closed first, or it sent its encrypted
// close_notify before any data (nginx does, then the server closes first).
func (d *diag) closedAtOnce() bool {
	h := d.h
	if !h.Established() || h.ClientDataSent || d.isQUIC() || !(h.ClientFIN || h.ClientRST || h.ServerFIN || h.ServerRST) {
		return false
	}
	if h.EndedBy == handshake.SideClient {
		return true
	}
	for i := range h.Alerts {
		if a := &h.Alerts[i]; a.Sender == handshake.SideClient && a.Encrypted {
			return true
		}
	}
	return false
}

// certificateProblems returns the findings about the server's leaf
// certificate (TLS <= 1.2 shows it): not valid at the packet's time, or
// not for the SNI. They are errors when the client refused the handshake,
// warnings when it went on.
func (d *diag) certificateProblems() []Finding {
	h := d.h
	c := h.Cert
	if c == nil || c.ParseError != "" || h.ClientHelloTime.IsZero() {
		return nil
	}
	sev := SeverityWarning
	if d.clientRejected() {
		sev = SeverityError
	}
	at := h.ClientHelloTime
	subject := "server certificate " + strconv.Quote(c.Subject) + " (issuer " + strconv.Quote(c.Issuer) + ")"
	var out []Finding
	if !c.NotAfter.IsZero() && at.After(c.NotAfter) {
		out = append(out, Finding{
			ID: CertificateExpired, Severity: sev,
			Summary:  "The server's certificate expired on " + c.NotAfter.UTC().Format(time.RFC3339) + ", before this handshake; renew it.",
			Evidence: append(d.helloEvidence(), subject+" is valid until "+c.NotAfter.UTC().Format(time.RFC3339)+", the handshake was at "+at.UTC().Format(time.RFC3339)),
			Hint:     "renew the upstream's certificate (it has expired)",
			Hints:    []Hint{{"nginx", "renew the upstream's certificate; nginx with `proxy_ssl_verify on` refuses it"}, {"haproxy", "renew the server's certificate"}, {"envoy", "renew the upstream certificate"}, {"curl", "renew the server's certificate (`-k` only hides it)"}, {"go", "renew the server's certificate"}},
			NginxLog: "upstream SSL certificate verify error: (10:certificate has expired) while SSL handshaking to upstream",
		})
	}
	if !c.NotBefore.IsZero() && at.Before(c.NotBefore) {
		out = append(out, Finding{
			ID: CertificateNotYetValid, Severity: sev,
			Summary:  "The server's certificate is not valid until " + c.NotBefore.UTC().Format(time.RFC3339) + ", after this handshake: a wrong clock on one side, or a certificate issued for the future.",
			Evidence: append(d.helloEvidence(), subject+" is valid from "+c.NotBefore.UTC().Format(time.RFC3339)+", the handshake was at "+at.UTC().Format(time.RFC3339)),
			Hint:     "check the clocks of client and server (NTP), and the certificate's notBefore",
			Hints:    []Hint{{"nginx", "check the clock of the nginx host and the upstream's certificate"}, {"haproxy", "check the clocks and the server's certificate"}, {"envoy", "check the clocks and the upstream certificate"}, {"curl", "check the clocks"}, {"go", "check the clocks (`tls.Config.Time`)"}},
			NginxLog: "upstream SSL certificate verify error: (9:certificate is not yet valid) while SSL handshaking to upstream",
		})
	}
	if h.HasSNI && !h.SNIIsIP && h.ServerName != "" && !CertificateMatches(c, h.ServerName) {
		names := c.SANs
		if len(names) == 0 {
			names = []string{"CN of " + c.Subject}
		}
		out = append(out, Finding{
			ID: CertificateNameMismatch, Severity: sev,
			Summary: "The server's certificate is not for " + strconv.Quote(h.ServerName) + " (it names " + strconv.Quote(strings.Join(names, ", ")) + "): the upstream served another name's certificate; give it one for this name, or send the name it has one for.",
			Evidence: append(d.helloEvidence(), subject+" covers "+strconv.Quote(strings.Join(names, ", "))+", not "+strconv.Quote(h.ServerName)+
				" (RFC 6125: subjectAltName DNS names, the CN only without them, a wildcard for one left-most label)"),
			Hint:     "nginx: set `proxy_ssl_name` to a name on the upstream's certificate, or fix the upstream's certificate for this name",
			Hints:    []Hint{{"nginx", "set `proxy_ssl_name <name on the certificate>;` (nginx checks it with `proxy_ssl_verify on`), or install the right certificate upstream"}, {"haproxy", "set `verifyhost <name>` / `sni` to a name on the certificate"}, {"envoy", "fix `sni` and `match_typed_subject_alt_names`"}, {"curl", "connect with a name on the certificate (`--resolve`/`--connect-to`)"}, {"go", "set `tls.Config.ServerName` to a name on the certificate"}},
			NginxLog: "upstream SSL certificate does not match \"" + h.ServerName + "\" while SSL handshaking to upstream",
		})
	}
	return out
}

// CertificateMatches reports whether the certificate covers host as RFC
// 6125 §6.4 says: its DNS subjectAltNames (the subject CN only when there
// are none), case-insensitively, with a wildcard only as the whole
// left-most label, matching exactly one label.
func CertificateMatches(c *handshake.Certificate, host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	names := c.SANs
	if len(names) == 0 {
		if cn := subjectCN(c.Subject); cn != "" {
			names = []string{cn}
		}
	}
	for _, n := range names {
		if nameMatches(strings.ToLower(strings.TrimSuffix(n, ".")), host) {
			return true
		}
	}
	return false
}

func nameMatches(pattern, host string) bool {
	if pattern == host {
		return true
	}
	rest, ok := strings.CutPrefix(pattern, "*.")
	if !ok || rest == "" || strings.Contains(rest, "*") {
		return false
	}
	label, tail, ok := strings.Cut(host, ".")
	return ok && label != "" && tail == rest
}

// subjectCN returns the CN of a subject as crypto/x509's pkix.Name String
// writes it ("CN=abc.example.com,O=..."), or "".
func subjectCN(subject string) string {
	for _, part := range strings.Split(subject, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "CN="); ok {
			return v
		}
	}
	return ""
}

// certEvidence names the certificate the server sent, for missing_sni: the
// server's default certificate, sent to a hello without SNI.
func (d *diag) certEvidence() string {
	c := d.h.Cert
	if c == nil {
		return ""
	}
	names := strings.Join(c.SANs, ", ")
	if names == "" {
		names = c.Subject
	}
	return "the server answered the SNI-less hello with its default certificate " + strconv.Quote(c.Subject) + " (for " + strconv.Quote(names) + ")"
}

// missingSNICertificate is missing_sni behind a certificate symptom: a
// hello without SNI, answered with the server's default certificate, which
// the client then refused (an alert, or nginx's silent close).
func (d *diag) missingSNICertificate() Finding {
	ev := d.helloEvidence()
	if c := d.certEvidence(); c != "" {
		ev = append(ev, c)
	}
	how := "closed the connection at once without a request (how nginx `proxy_ssl_verify on` refuses a certificate)"
	if a := firstAny(d.h, handshake.SideClient); a != nil && d.h.Outcome == handshake.OutcomeClientAlert {
		ev = append(ev, d.alertEvidence(a))
		how = "refused it"
	} else {
		ev = append(ev, "client closed the connection without sending a request"+d.since(d.h.EndTime))
	}
	return Finding{
		ID:       MissingSNI,
		Severity: SeverityError,
		Summary:  "The ClientHello carried no SNI, so the server answered with its default certificate, and the client " + how + "; send the host name as SNI.",
		Evidence: ev,
		Hint:     sniHint,
		Hints:    slices.Clone(sniHints),
		NginxLog: "upstream SSL certificate does not match \"<host>\" while SSL handshaking to upstream",
	}
}

// expiredByAlert is certificate_expired told by the client's alert (curl
// and other OpenSSL clients send it in plaintext, also under TLS 1.3).
func (d *diag) expiredByAlert(a *handshake.AlertRecord) Finding {
	return Finding{
		ID:       CertificateExpired,
		Severity: SeverityError,
		Summary:  "The client refused the server's certificate as expired (certificate_expired, 45); renew the upstream's certificate.",
		Evidence: append(d.helloEvidence(), d.alertEvidence(a)),
		Hint:     "renew the upstream's certificate (it has expired)",
		Hints:    []Hint{{"nginx", "renew the upstream's certificate; nginx with `proxy_ssl_verify on` refuses it"}, {"haproxy", "renew the server's certificate"}, {"envoy", "renew the upstream certificate"}, {"curl", "renew the server's certificate (`-k` only hides it)"}, {"go", "renew the server's certificate"}},
		NginxLog: "upstream SSL certificate verify error: (10:certificate has expired) while SSL handshaking to upstream",
	}
}

// clientCertNotSent is client_certificate_required as a warning: the
// server asked, the client had none, and the handshake went on (a server
// with an optional client certificate, or nginx `ssl_verify_client on`,
// which completes the handshake and answers HTTP 400).
func (d *diag) clientCertNotSent() Finding {
	return Finding{
		ID:       ClientCertificateRequired,
		Severity: SeverityWarning,
		Summary:  "The server asked for a client certificate and the client sent none; the handshake went on, but a server that requires one (nginx `ssl_verify_client on`) answers its requests with HTTP 400.",
		Evidence: append(d.helloEvidence(), "server sent a CertificateRequest", "client's Certificate message was empty"),
		Hint:     "if the upstream requires client certificates: nginx `proxy_ssl_certificate` + `proxy_ssl_certificate_key`",
		Hints:    slices.Clone(clientCertHints),
	}
}
