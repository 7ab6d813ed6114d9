package diagnose

// Findings about the server name: missing, resumed without it, unknown, an IP.

import (
	"slices"
	"strconv"
	"strings"

	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/tlsparse"
)

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
