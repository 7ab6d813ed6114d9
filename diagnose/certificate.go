package diagnose

// Findings about the server's certificate as the client judged it.

import (
	"strconv"
	"time"

	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/tlsparse"
)

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

func (d *diag) closedAfterHandshake() {
	h := d.h
	if !d.closedAtOnce() {
		// (A QUIC client's close after the handshake is encrypted: not
		// seen.)
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
	if h.EndedBy == handshake.SideClient {
		ev = append(ev, "client closed the connection ("+how+") without sending application data"+d.since(h.EndTime))
	} else {
		ev = append(ev, "client sent its close_notify without sending application data, and the server closed the connection"+d.since(h.EndTime))
	}
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
