package report

import (
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/hellowatch/hellowatch/diagnose"
	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/tlsparse"
)

// ECSVersion is the Elastic Common Schema version the ECS documents
// conform to (ecs.version in every document).
const ECSVersion = "9.4.0"

// ECSWriter writes one Elastic Common Schema document per handshake, one
// line each. It is safe for concurrent use.
type ECSWriter struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

// NewECSWriter returns an ECSWriter writing to w. When w has a Flush
// method it is called after each line.
func NewECSWriter(w io.Writer) *ECSWriter {
	return &ECSWriter{w: w, buf: make([]byte, 0, 4096)}
}

// Write writes h and its findings as one ECS document.
func (e *ECSWriter) Write(h *handshake.Handshake, fs []diagnose.Finding) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.buf = AppendECS(e.buf[:0], h, fs)
	e.buf = append(e.buf, '\n')
	if _, err := e.w.Write(e.buf); err != nil {
		return fmt.Errorf("report: write ecs: %w", err)
	}
	if err := flush(e.w); err != nil {
		return fmt.Errorf("report: flush ecs: %w", err)
	}
	return nil
}

// ecsVersion splits a negotiated version into ECS's tls.version_protocol
// and tls.version ("tls", "1.2"); TLS 1.3 drafts count as 1.3.
func ecsVersion(v tlsparse.Version) (protocol, version string) {
	switch {
	case v == tlsparse.VersionSSL20:
		return "ssl", "2.0"
	case v == tlsparse.VersionSSL30:
		return "ssl", "3.0"
	case v == tlsparse.VersionTLS10:
		return "tls", "1.0"
	case v == tlsparse.VersionTLS11:
		return "tls", "1.1"
	case v == tlsparse.VersionTLS12:
		return "tls", "1.2"
	case v == tlsparse.VersionTLS13 || v>>8 == 0x7f:
		return "tls", "1.3"
	}
	return "", ""
}

// ecsOutcome maps an outcome to event.outcome.
func ecsOutcome(o handshake.Outcome) string {
	switch o {
	case handshake.OutcomeEstablished:
		return "success"
	case handshake.OutcomeIncomplete:
		return "unknown"
	}
	return "failure"
}

func appendECSTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, tsLayout)
	return append(dst, '"')
}

// appendECSEndpoint appends {"ip":..,"port":..,"address":..}.
func appendECSEndpoint(dst []byte, h *handshake.Handshake, client bool) []byte {
	ap := h.Server
	if client {
		ap = h.Client
	}
	dst = append(dst, `{"ip":"`...)
	dst = ap.Addr().WithZone("").AppendTo(dst)
	dst = append(dst, `","port":`...)
	dst = strconv.AppendUint(dst, uint64(ap.Port()), 10)
	dst = append(dst, `,"address":"`...)
	dst = ap.Addr().WithZone("").AppendTo(dst)
	return append(dst, `"}`...)
}

// AppendECS appends h as one ECS document (no newline): @timestamp (the
// ClientHello), ecs.version, message, event.* (kind event, category
// network, type connection and protocol, outcome success/failure/unknown,
// start, end, duration), source (the client) and destination (the server),
// network.* with the Community ID, tls.* (version, cipher, curve,
// established, resumed, next_protocol, client server_name/ja3, server
// certificate), error.* for the first finding, and what ECS has no field
// for under hellowatch.* (outcome, findings, alerts, history, JA4, QUIC).
func AppendECS(dst []byte, h *handshake.Handshake, fs []diagnose.Finding) []byte {
	dst = append(dst, `{"@timestamp":`...)
	dst = appendECSTime(dst, h.ClientHelloTime)
	dst = append(dst, `,"ecs":{"version":"`+ECSVersion+`"},"message":`...)
	msg := "TLS handshake " + h.Outcome.String()
	if len(fs) > 0 {
		msg += ": " + fs[0].Summary
	}
	dst = appendJSONString(dst, msg, false)

	dst = append(dst, `,"event":{"kind":"event","category":["network"],"type":["connection","protocol"],"module":"hellowatch","dataset":"hellowatch.tls","outcome":"`...)
	dst = append(dst, ecsOutcome(h.Outcome)...)
	dst = append(dst, '"')
	start := h.ClientHelloTime
	if !h.SYNTime.IsZero() {
		start = h.SYNTime
	}
	dst = append(dst, `,"start":`...)
	dst = appendECSTime(dst, start)
	if !h.EndTime.IsZero() && !h.EndTime.Before(start) {
		dst = append(dst, `,"end":`...)
		dst = appendECSTime(dst, h.EndTime)
		dst = append(dst, `,"duration":`...)
		dst = strconv.AppendInt(dst, int64(h.EndTime.Sub(start)), 10)
	}
	if len(fs) > 0 {
		dst = append(dst, `,"reason":`...)
		dst = appendJSONString(dst, fs[0].Summary, false)
	}
	dst = append(dst, `},"source":`...)
	dst = appendECSEndpoint(dst, h, true)
	dst = append(dst, `,"destination":`...)
	dst = appendECSEndpoint(dst, h, false)

	dst = append(dst, `,"network":{"transport":"`...)
	if h.Transport == handshake.TransportQUIC {
		dst = append(dst, `udp","iana_number":"17","protocol":"quic"`...)
	} else {
		dst = append(dst, `tcp","iana_number":"6","protocol":"tls"`...)
	}
	dst = append(dst, `,"type":"`...)
	if h.Client.Addr().Is4() {
		dst = append(dst, "ipv4"...)
	} else {
		dst = append(dst, "ipv6"...)
	}
	dst = append(dst, '"')
	dst = appendCommunityIDField(dst, h)

	dst = append(dst, `},"tls":{"established":`...)
	dst = appendBool(dst, h.Established())
	dst = append(dst, `,"resumed":`...)
	dst = appendBool(dst, h.Resumed)
	if proto, v := ecsVersion(h.Version); h.ServerHelloSeen && v != "" {
		dst = append(dst, `,"version_protocol":"`...)
		dst = append(dst, proto...)
		dst = append(dst, `","version":"`...)
		dst = append(dst, v...)
		dst = append(dst, '"')
	}
	if h.ServerHelloSeen && h.Cipher != 0 {
		dst = append(dst, `,"cipher":`...)
		dst = appendJSONString(dst, h.Cipher.String(), false)
	}
	if g := zeekCurve(h); g != 0 {
		dst = append(dst, `,"curve":`...)
		dst = appendJSONString(dst, g.String(), false)
	}
	if h.NextProtocol != "" {
		dst = append(dst, `,"next_protocol":`...)
		dst = appendJSONString(dst, h.NextProtocol, true)
	}
	dst = append(dst, `,"client":{`...)
	sep := ""
	if h.HasSNI {
		dst = append(dst, `"server_name":`...)
		dst = appendJSONString(dst, h.ServerName, true)
		sep = ","
	}
	if h.JA3 != "" {
		dst = append(dst, sep...)
		dst = append(dst, `"ja3":`...)
		dst = appendJSONString(dst, h.JA3, false)
	}
	dst = append(dst, '}')
	if c := h.Cert; c != nil && c.ParseError == "" {
		dst = append(dst, `,"server":{"subject":`...)
		dst = appendJSONString(dst, c.Subject, true)
		dst = append(dst, `,"issuer":`...)
		dst = appendJSONString(dst, c.Issuer, true)
		if !c.NotBefore.IsZero() {
			dst = append(dst, `,"not_before":`...)
			dst = appendECSTime(dst, c.NotBefore)
		}
		if !c.NotAfter.IsZero() {
			dst = append(dst, `,"not_after":`...)
			dst = appendECSTime(dst, c.NotAfter)
		}
		dst = append(dst, `,"x509":{"subject":{"distinguished_name":`...)
		dst = appendJSONString(dst, c.Subject, true)
		dst = append(dst, `},"issuer":{"distinguished_name":`...)
		dst = appendJSONString(dst, c.Issuer, true)
		dst = append(dst, '}')
		if len(c.SANs) > 0 {
			dst = append(dst, `,"alternative_names":`...)
			dst = appendJSONStrings(dst, c.SANs, true)
		}
		if !c.NotBefore.IsZero() {
			dst = append(dst, `,"not_before":`...)
			dst = appendECSTime(dst, c.NotBefore)
		}
		if !c.NotAfter.IsZero() {
			dst = append(dst, `,"not_after":`...)
			dst = appendECSTime(dst, c.NotAfter)
		}
		dst = append(dst, `}}`...)
	}
	dst = append(dst, '}')

	if len(fs) > 0 {
		dst = append(dst, `,"error":{"code":`...)
		dst = appendJSONString(dst, fs[0].ID, false)
		dst = append(dst, `,"message":`...)
		dst = appendJSONString(dst, fs[0].Summary, false)
		dst = append(dst, `,"type":`...)
		dst = appendJSONString(dst, fs[0].Severity, false)
		dst = append(dst, '}')
	}

	dst = append(dst, `,"hellowatch":{"schema":"`+Schema+`","outcome":"`...)
	dst = append(dst, h.Outcome.String()...)
	dst = append(dst, `","transport":`...)
	dst = appendNullableString(dst, h.Transport.String(), false)
	dst = append(dst, `,"version":`...)
	dst = appendNonZero(dst, h.Version)
	dst = append(dst, `,"client_versions":`...)
	dst = appendNames(dst, h.ClientVersions)
	dst = append(dst, `,"alpn":`...)
	dst = appendJSONStrings(dst, h.ALPN, true)
	dst = append(dst, `,"ja4":`...)
	dst = appendNullableString(dst, h.JA4, false)
	dst = append(dst, `,"ja4_r":`...)
	dst = appendNullableString(dst, h.JA4R, false)
	dst = append(dst, `,"history":`...)
	dst = appendJSONString(dst, h.History, false)
	dst = append(dst, `,"alerts":[`...)
	for i := range h.Alerts {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendAlert(dst, &h.Alerts[i])
	}
	dst = append(dst, `],"findings":[`...)
	for i := range fs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendFinding(dst, &fs[i])
	}
	dst = append(dst, `],"quic":`...)
	dst = appendQUIC(dst, h.QUIC)
	return append(dst, `}}`...)
}
