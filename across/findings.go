package across

import (
	"strconv"

	"github.com/hellowatch/hellowatch/diagnose"
	"github.com/hellowatch/hellowatch/handshake"
)

// LargeHelloDropped (diagnose.LargeHelloDropped) is the finding of a
// ClientHello that spanned two or more TCP segments and got no TLS answer
// (RST, FIN or silence) from a server that answers single-segment hellos:
// an SNI router, load balancer or middlebox that decides on the first
// segment (post-quantum key shares made hellos of ~1.5 KB common:
// golang/go#70047, haproxy/haproxy#3148).
const LargeHelloDropped = diagnose.LargeHelloDropped

var largeHelloHints = []diagnose.Hint{
	{Client: "haproxy", Text: "wait for the whole hello before routing on SNI: `tcp-request inspect-delay 5s` and `tcp-request content accept if { req.ssl_hello_type 1 }` before `use_backend ... if { req.ssl_sni ... }`"},
	{Client: "nginx", Text: "ingress-nginx SSL passthrough and `ssl_preread` routers: upgrade (older ones read only the first segment) or raise `proxy_timeout`/preread buffers"},
	{Client: "envoy", Text: "use the `tls_inspector` listener filter (it buffers the whole ClientHello) and upgrade past envoyproxy/envoy#33850"},
	{Client: "go", Text: "as a stopgap on the client: `GODEBUG=tlsmlkem=0` (or `tls.Config.CurvePreferences` without X25519MLKEM768) keeps the hello in one segment"},
	{Client: "curl", Text: "as a stopgap: `--curves X25519:P-256` (classic groups only) keeps the hello in one segment"},
}

// largeHello returns large_hello_dropped for a failed multi-segment hello
// without any TLS answer: an error when single-segment hellos to the same
// server worked and no multi-segment one did, a warning (the pattern
// alone) before any success was seen.
func (s *Stage) largeHello(sv *server, h *handshake.Handshake, fs []diagnose.Finding, failed bool) (diagnose.Finding, bool) {
	if h.Transport != handshake.TransportTCP || h.HelloSegments < 2 {
		return diagnose.Finding{}, false
	}
	if !failed {
		sv.largeOK++
		return diagnose.Finding{}, false
	}
	switch h.Outcome {
	case handshake.OutcomeServerReset, handshake.OutcomeServerClosed, handshake.OutcomeNoResponse:
	default:
		return diagnose.Finding{}, false
	}
	if h.ServerHelloSeen || !h.HasSNI || len(h.Alerts) > 0 || hasFinding(fs, diagnose.MiddleboxReset) {
		return diagnose.Finding{}, false
	}
	sv.largeDropped++
	if sv.largeOK > 0 {
		return diagnose.Finding{}, false // multi-segment hellos work here: not the size
	}
	how := "the server reset the connection (RST)"
	switch h.Outcome {
	case handshake.OutcomeServerClosed:
		how = "the server closed the connection (FIN)"
	case handshake.OutcomeNoResponse:
		how = "the server never answered"
	}
	what := how + " without any TLS answer"
	if h.Outcome == handshake.OutcomeNoResponse {
		what = how
	}
	ev := []string{
		"ClientHello of " + strconv.Itoa(h.HelloLen) + " bytes spanned " + strconv.Itoa(h.HelloSegments) + " TCP segments",
		what,
	}
	if len(h.ClientKeyShares) > 0 {
		ev = append(ev, "key shares offered: "+attrValue(h, attrKeyShare))
	}
	f := diagnose.Finding{
		ID:    LargeHelloDropped,
		Hint:  "the router or middlebox in front of the server decides on the hello's first segment: let it wait for the whole hello (HAProxy `tcp-request inspect-delay` + `req.ssl_hello_type 1`, Envoy `tls_inspector`), or keep the hello in one segment (classic key shares only)",
		Hints: largeHelloHints,
	}
	if sv.smallOK > 0 {
		f.Severity = diagnose.SeverityError
		ev = append(ev, strconv.FormatUint(sv.smallOK, 10)+" single-segment hellos to "+h.Server.String()+" worked (the largest "+strconv.Itoa(sv.largestOK)+" bytes); "+
			strconv.FormatUint(sv.largeDropped, 10)+" multi-segment hellos failed and none worked")
		f.Summary = "The ClientHello spanned " + strconv.Itoa(h.HelloSegments) + " TCP segments and " + how + ", while single-segment hellos to the same server work: an SNI router or middlebox that decides on the first segment drops large (post-quantum) hellos."
	} else {
		f.Severity = diagnose.SeverityWarning
		ev = append(ev, "no handshake to "+h.Server.String()+" has worked yet to compare with")
		f.Summary = "The ClientHello spanned " + strconv.Itoa(h.HelloSegments) + " TCP segments and " + how + ": the pattern of a router or middlebox that drops hellos larger than one segment (compare with a single-segment hello to confirm)."
	}
	f.Evidence = ev
	f.NginxLog = "peer closed connection in SSL handshake while SSL handshaking to upstream"
	if h.Outcome == handshake.OutcomeServerReset {
		f.NginxLog = "peer closed connection in SSL handshake (104: Connection reset by peer) while SSL handshaking to upstream"
	} else if h.Outcome == handshake.OutcomeNoResponse {
		f.NginxLog = "upstream timed out (110: Connection timed out) while SSL handshaking to upstream"
	}
	return f, true
}

func hasFinding(fs []diagnose.Finding, id string) bool {
	for i := range fs {
		if fs[i].ID == id {
			return true
		}
	}
	return false
}

// supports names the finding each split attribute is evidence for.
var supports = map[string]string{
	"sni":            diagnose.MissingSNI,
	"hello_segments": LargeHelloDropped,
	"key_share":      LargeHelloDropped,
	"max_version":    diagnose.VersionMismatch,
}

// addEvidence adds what other handshakes to the server show to the
// findings it supports: the split, and for missing_sni the certificate the
// server sends without SNI when it differs from the one it sends with it.
func (s *Stage) addEvidence(sv *server, h *handshake.Handshake, fs []diagnose.Finding) []diagnose.Finding {
	sp, ok := sv.split()
	for i := range fs {
		f := &fs[i]
		if f.Severity != diagnose.SeverityError && f.ID != LargeHelloDropped {
			continue
		}
		if ok && supports[sp.Attribute] == f.ID && (sp.Attribute != "sni" || sp.Value == "absent") {
			f.Evidence = append(f.Evidence, "across handshakes, "+sp.String())
		}
		if f.ID == diagnose.MissingSNI && sv.certNoSNI != "" && sv.certWithSNI != "" && sv.certNoSNI != sv.certWithSNI {
			f.Evidence = append(f.Evidence, "the server answers hellos without SNI with the certificate "+strconv.Quote(sv.certNoSNI)+
				" and hellos with SNI with "+strconv.Quote(sv.certWithSNI))
		}
	}
	return fs
}
