package diagnose

// Refusals without a more specific cause, silence, and plaintext answers.

import (
	"strconv"
	"strings"

	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/tlsparse"
)

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
		ev = append(ev, d.alertEvidence(a)+" in place of its Finished, and no request",
			"Go clients encrypt their certificate alerts (bad_certificate) in TLS 1.3: ServerHello, one alert-sized encrypted record, FIN")
		d.add(Finding{
			ID:       UntrustedCertificate,
			Severity: SeverityError,
			Summary:  "The client aborted the handshake with an encrypted alert in place of its Finished: it rejected the server's certificate (inferred: TLS 1.3 encrypts the certificate and which check failed — an unknown CA, a wrong name, or dates).",
			Evidence: ev,
			Hint:     "make the client trust the server's certificate: Go `tls.Config.RootCAs` and `ServerName`; check the certificate's names and dates",
			Hints: []Hint{
				{"go", "add the CA to `tls.Config.RootCAs` and set `ServerName` to a name on the certificate"},
				{"nginx", "set `proxy_ssl_trusted_certificate <ca.pem>;` and `proxy_ssl_name <host>;`"},
				{"haproxy", "set `ca-file` and `verifyhost` on the `server` line"},
				{"envoy", "check `validation_context` (trusted_ca, match_typed_subject_alt_names)"},
				{"curl", "pass `--cacert <ca.pem>`"},
			},
			NginxLog: "upstream SSL certificate verify error: (20:unable to get local issuer certificate) while SSL handshaking to upstream",
		})
		return
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
