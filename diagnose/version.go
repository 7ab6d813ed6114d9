package diagnose

// Findings about what the two sides could not agree on: versions, ciphers.

import (
	"slices"
	"strconv"
	"strings"

	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/tlsparse"
)

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
