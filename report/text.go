package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/hellowatch/hellowatch/diagnose"
	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/tlsparse"
)

// ANSI SGR sequences used when colour is on.
const (
	ansiReset  = "\x1b[0m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
)

// TextWriter writes one line per handshake for people, followed by an
// indented why/evidence/fix block per finding. Every string taken off the
// wire is escaped with EscapeWire, so a hostile SNI cannot drive the
// terminal. A TextWriter is safe for concurrent use.
type TextWriter struct {
	mu    sync.Mutex
	w     io.Writer
	color bool
	buf   []byte
}

// NewTextWriter returns a TextWriter writing to w. ANSI colour is used only
// when color is true (the command decides: a terminal and no NO_COLOR).
func NewTextWriter(w io.Writer, color bool) *TextWriter {
	return &TextWriter{w: w, color: color, buf: make([]byte, 0, 1024)}
}

func (t *TextWriter) paint(dst []byte, code, s string) []byte {
	if !t.color {
		return append(dst, s...)
	}
	dst = append(dst, code...)
	dst = append(dst, s...)
	return append(dst, ansiReset...)
}

// Write writes h and its findings. The time is printed in h's own location
// (the command converts to local time if it wants).
func (t *TextWriter) Write(h *handshake.Handshake, fs []diagnose.Finding) error {
	return t.WriteLines(h, fs, nil)
}

// WriteLines writes h and its findings, with the user's own nginx
// error-log lines joined to it under the first finding that has a canned
// "nginx log:" line (instead of that line), else under the handshake.
func (t *TextWriter) WriteLines(h *handshake.Handshake, fs []diagnose.Finding, lines []LogLine) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf[:0]
	if h.ClientHelloTime.IsZero() {
		b = t.paint(b, ansiDim, "--:--:--.------")
	} else {
		b = t.paint(b, ansiDim, h.ClientHelloTime.Format("15:04:05.000000"))
	}
	b = append(b, ' ')
	b = h.Client.AppendTo(b)
	b = append(b, " → "...)
	b = h.Server.AppendTo(b)
	if h.Transport == handshake.TransportQUIC {
		// UDP: say so, with the QUIC version in use (tcpdump says UDP).
		b = append(b, " QUIC"...)
		if h.QUIC != nil {
			b = append(b, ' ')
			b = append(b, h.QUIC.Version.String()...)
		}
	}
	b = appendTunnelText(b, h.Tunnel)
	b = append(b, ' ')
	switch {
	case h.HasSNI:
		b = append(b, '"')
		b = appendEscapedWire(b, h.ServerName)
		b = append(b, '"')
	case !diagnose.HelloDecoded(h):
		b = t.paint(b, ansiYellow, "(hello not decoded)")
	default:
		b = t.paint(b, ansiYellow, "(no SNI)")
	}
	b = append(b, ' ')
	if len(h.ClientVersions) == 0 {
		b = append(b, '?')
	}
	for i, v := range h.ClientVersions {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, v.String()...)
	}
	b = append(b, " → "...)
	if h.Version != 0 {
		b = append(b, h.Version.String()...)
	} else {
		b = append(b, '-')
	}
	if len(h.ALPN) > 0 {
		b = append(b, " alpn="...)
		for i, p := range h.ALPN {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendEscapedWire(b, p)
		}
		if h.NextProtocol != "" {
			b = append(b, "→"...)
			b = appendEscapedWire(b, h.NextProtocol)
		}
	}
	if h.Resumed {
		b = append(b, " resumed"...)
	}
	b = append(b, ' ')
	oc := ansiRed
	switch {
	case h.Established():
		oc = ansiGreen
	case h.Outcome == handshake.OutcomeIncomplete:
		oc = ansiYellow
	}
	b = t.paint(b, ansiBold+oc, h.Outcome.String())
	if a := keyAlert(h); a != nil {
		b = append(b, ' ')
		b = append(b, AlertText(a)...)
	} else if q := h.QUIC; q != nil {
		b = appendQUICEnd(b, h, q)
	}
	if h.Outcome == handshake.OutcomeNotTLS && len(h.NotTLSPrefix) > 0 {
		b = append(b, ` "`...)
		b = appendEscapedWire(b, string(h.NotTLSPrefix))
		b = append(b, '"')
	}
	b = append(b, '\n')
	placed := len(lines) == 0
	for i := range fs {
		if !placed && fs[i].NginxLog != "" {
			b = t.appendFinding(b, &fs[i], lines)
			placed = true
			continue
		}
		b = t.appendFinding(b, &fs[i], nil)
	}
	if !placed {
		b = appendLogLines(b, "    ", lines)
	}
	t.buf = b
	if _, err := t.w.Write(b); err != nil {
		return fmt.Errorf("report: write text: %w", err)
	}
	return nil
}

// EndText says in a few words how a handshake ended, as its text line
// does: the alert that tells the story ("server fatal
// handshake_failure(40)"), for QUIC without one the CONNECTION_CLOSE or the
// Version Negotiation ("server CONNECTION_CLOSE 0x0002"), else the outcome
// word ("server_reset", "no_response").
func EndText(h *handshake.Handshake) string {
	if a := keyAlert(h); a != nil {
		return AlertText(a)
	}
	if q := h.QUIC; q != nil {
		if b := appendQUICEnd(nil, h, q); len(b) > 1 {
			return string(b[1:]) // without its leading space
		}
	}
	return h.Outcome.String()
}

// keyAlert returns the alert that tells the story: the first plaintext one,
// else the last.
func keyAlert(h *handshake.Handshake) *handshake.AlertRecord {
	for i := range h.Alerts {
		if !h.Alerts[i].Encrypted {
			return &h.Alerts[i]
		}
	}
	return h.LastAlert()
}

// appendQUICEnd says how a QUIC handshake without a TLS alert ended, when
// its Initial packets show it: "server CONNECTION_CLOSE 0x0002", or
// "server version_negotiation(v1)" for an attempt the client gave up after
// the server's Version Negotiation.
func appendQUICEnd(b []byte, h *handshake.Handshake, q *handshake.QUICInfo) []byte {
	switch {
	case q.Close != nil:
		b = append(b, ' ')
		b = append(b, q.Close.Sender.String()...)
		if q.Close.Application {
			b = append(b, " application"...)
		}
		b = append(b, " CONNECTION_CLOSE "...)
		b = append(b, diagnose.QUICCode(q.Close.Code)...)
	case q.VersionNegotiation && h.Outcome == handshake.OutcomeServerClosed && !h.ServerHelloSeen:
		b = append(b, " server version_negotiation("...)
		for i, v := range q.ServerVersions {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, v.String()...)
		}
		b = append(b, ')')
	}
	return b
}

// AlertText renders an alert as "server fatal handshake_failure(40)" or
// "client encrypted alert".
func AlertText(a *handshake.AlertRecord) string {
	var sb strings.Builder
	sb.WriteString(a.Sender.String())
	if a.Encrypted {
		sb.WriteString(" encrypted alert")
		return sb.String()
	}
	if a.Level == tlsparse.AlertLevelWarning || a.Level == tlsparse.AlertLevelFatal {
		sb.WriteString(" " + a.Level.String() + " ")
	} else {
		sb.WriteString(" level" + strconv.Itoa(int(a.Level)) + " ")
	}
	sb.WriteString(a.Description.Name())
	sb.WriteString("(" + strconv.Itoa(int(a.Description)) + ")")
	return sb.String()
}

func (t *TextWriter) appendFinding(b []byte, f *diagnose.Finding, lines []LogLine) []byte {
	sev := ansiRed
	if f.Severity == diagnose.SeverityWarning {
		sev = ansiYellow
	}
	b = append(b, "    "...)
	b = t.paint(b, ansiBold+sev, f.ID)
	b = append(b, " ("...)
	b = append(b, f.Severity...)
	b = append(b, ")\n      why: "...)
	b = appendEscapedText(b, f.Summary)
	b = append(b, '\n')
	if len(f.Evidence) > 0 {
		b = append(b, "      evidence:\n"...)
		for _, e := range f.Evidence {
			b = append(b, "        - "...)
			b = appendEscapedText(b, e)
			b = append(b, '\n')
		}
	}
	if f.Hint != "" {
		b = append(b, "      fix: "...)
		b = appendEscapedText(b, f.Hint)
		b = append(b, '\n')
	}
	if len(lines) > 0 {
		b = appendLogLines(b, "      ", lines)
	} else if f.NginxLog != "" {
		b = append(b, "      nginx log: "...)
		b = appendEscapedText(b, f.NginxLog)
		b = append(b, '\n')
	}
	return b
}

// appendEscapedText appends our own text (which may quote wire strings),
// escaping only control characters: quotes and backslashes stay readable.
func appendEscapedText(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f || c >= 0x80 {
			return appendEscapedTextSlow(dst, s)
		}
	}
	return append(dst, s...)
}

func appendEscapedTextSlow(dst []byte, s string) []byte {
	for _, part := range splitKeep(s) {
		if part == "\\" || part == "\"" {
			dst = append(dst, part...)
			continue
		}
		dst = appendEscapedWire(dst, part)
	}
	return dst
}

// splitKeep splits s around backslashes and quotes, keeping them as parts.
func splitKeep(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' || s[i] == '"' {
			if i > start {
				out = append(out, s[start:i])
			}
			out = append(out, s[i:i+1])
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}
