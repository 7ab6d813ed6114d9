package report

import (
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/hellowatch/hellowatch/diagnose"
	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/tlsparse"
)

// Schema names the JSON lines format; it changes only on incompatible
// change. hellowatch/2: history letters are Zeek's (D, not Q, for
// encrypted records; no V, N or !), community_id and ecdh_group added.
const Schema = "hellowatch/2"

// JSONKeys are the keys of every JSON line, in the order AppendJSON writes
// them: the contract of Schema (README, "JSON lines"). Each is
// always present, null or empty when unknown. The tests of report check
// that AppendJSON writes exactly these; the command's and the end-to-end
// tests check every line they read against them.
var JSONKeys = []string{
	"schema", "ts", "transport", "client", "server", "community_id", "tunnel", "server_name", "sni_is_ip", "sni_invalid",
	"client_versions", "version", "cipher", "alpn", "next_protocol",
	"ja3", "ja3_string", "ja4", "ja4_r",
	"ech_offered", "offers_session", "resumed", "hrr", "key_share_group", "ecdh_group", "client_hello_error",
	"alerts", "outcome", "established", "findings", "log_lines", "cert", "tcp_end", "quic", "not_tls_prefix",
	"timings", "packets", "first_packet", "last_packet", "hello_segments", "hello_len",
	"client_certificate", "encrypted_records", "ttl",
	"gap", "ambiguous", "history",
}

// tsLayout is RFC 3339 with a fixed nine-digit fraction, so lines sort as text.
const tsLayout = "2006-01-02T15:04:05.000000000Z07:00"

// JSONWriter writes one JSON object per handshake, one line each (see the
// contract: JSONKeys, documented in the README, "JSON lines"). Strings
// taken off the wire (server_name, alpn, next_protocol, certificate names,
// not_tls_prefix, ...) may hold any bytes: invalid UTF-8 is written as
// `\xNN` and a backslash as `\\` in the decoded string, so the bytes can
// be recovered exactly.
//
// The encoder is hand-written and reuses one buffer: a record costs no
// allocation once the buffer has grown. A JSONWriter is safe for
// concurrent use.
type JSONWriter struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

// NewJSONWriter returns a JSONWriter writing to w. When w has a Flush method
// (bufio.Writer, http.Flusher) it is called after each line.
func NewJSONWriter(w io.Writer) *JSONWriter {
	return &JSONWriter{w: w, buf: make([]byte, 0, 4096)}
}

// Write writes h and its findings as one line.
func (j *JSONWriter) Write(h *handshake.Handshake, fs []diagnose.Finding) error {
	return j.WriteLines(h, fs, nil)
}

// WriteLines writes h, its findings and the nginx error-log lines joined
// to it as one line.
func (j *JSONWriter) WriteLines(h *handshake.Handshake, fs []diagnose.Finding, lines []LogLine) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.buf = AppendJSONLines(j.buf[:0], h, fs, lines)
	j.buf = append(j.buf, '\n')
	if _, err := j.w.Write(j.buf); err != nil {
		return fmt.Errorf("report: write json: %w", err)
	}
	switch f := j.w.(type) {
	case interface{ Flush() error }:
		if err := f.Flush(); err != nil {
			return fmt.Errorf("report: flush json: %w", err)
		}
	case interface{ Flush() }:
		f.Flush()
	}
	return nil
}

// AppendJSON appends the JSON object for h and fs (without a newline) to
// dst and returns the extended buffer.
func AppendJSON(dst []byte, h *handshake.Handshake, fs []diagnose.Finding) []byte {
	return AppendJSONLines(dst, h, fs, nil)
}

// AppendJSONLines is AppendJSON with the nginx error-log lines joined to h
// (the "log_lines" key, [] when none).
func AppendJSONLines(dst []byte, h *handshake.Handshake, fs []diagnose.Finding, lines []LogLine) []byte {
	dst = append(dst, `{"schema":"`+Schema+`","ts":`...)
	dst = appendTime(dst, h.ClientHelloTime)
	dst = append(dst, `,"transport":`...)
	dst = appendNullableString(dst, h.Transport.String(), true)
	dst = append(dst, `,"client":`...)
	dst = appendAddrPort(dst, h.Client)
	dst = append(dst, `,"server":`...)
	dst = appendAddrPort(dst, h.Server)
	dst = append(dst, `,"community_id":`...)
	if f := communityFlow(h); f.Valid() {
		dst = append(dst, '"')
		dst = f.Append(dst, 0)
		dst = append(dst, '"')
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"tunnel":`...)
	dst = appendTunnels(dst, h.Tunnel)
	dst = append(dst, `,"server_name":`...)
	if h.HasSNI {
		dst = appendJSONString(dst, h.ServerName, true)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"sni_is_ip":`...)
	dst = appendBool(dst, h.SNIIsIP)
	dst = append(dst, `,"sni_invalid":`...)
	dst = appendBool(dst, h.SNIInvalid)
	dst = append(dst, `,"client_versions":`...)
	dst = appendNames(dst, h.ClientVersions)
	dst = append(dst, `,"version":`...)
	dst = appendNonZero(dst, h.Version)
	dst = append(dst, `,"cipher":`...)
	dst = appendNonZero(dst, h.Cipher)
	dst = append(dst, `,"alpn":`...)
	dst = appendJSONStrings(dst, h.ALPN, true)
	dst = append(dst, `,"next_protocol":`...)
	if h.NextProtocol != "" {
		dst = appendJSONString(dst, h.NextProtocol, true)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"ja3":`...)
	dst = appendNullableString(dst, h.JA3, true)
	dst = append(dst, `,"ja3_string":`...)
	dst = appendNullableString(dst, h.JA3String, true)
	dst = append(dst, `,"ja4":`...)
	dst = appendNullableString(dst, h.JA4, true)
	dst = append(dst, `,"ja4_r":`...)
	dst = appendNullableString(dst, h.JA4R, true)
	dst = append(dst, `,"ech_offered":`...)
	dst = appendBool(dst, h.ECHOffered)
	dst = append(dst, `,"offers_session":`...)
	dst = appendBool(dst, h.OffersSession)
	dst = append(dst, `,"resumed":`...)
	dst = appendBool(dst, h.Resumed)
	dst = append(dst, `,"hrr":`...)
	dst = appendBool(dst, h.HRR)
	dst = append(dst, `,"key_share_group":`...)
	dst = appendNonZero(dst, h.KeyShareGroup)
	dst = append(dst, `,"ecdh_group":`...)
	dst = appendNonZero(dst, h.ECDHGroup)
	dst = append(dst, `,"client_hello_error":`...)
	dst = appendNullableString(dst, h.ClientHelloError, true)

	dst = append(dst, `,"alerts":[`...)
	for i := range h.Alerts {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendAlert(dst, &h.Alerts[i])
	}
	dst = append(dst, `],"outcome":"`...)
	dst = append(dst, h.Outcome.String()...)
	dst = append(dst, `","established":`...)
	dst = appendBool(dst, h.Established())

	dst = append(dst, `,"findings":[`...)
	for i := range fs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendFinding(dst, &fs[i])
	}
	dst = append(dst, `],"log_lines":[`...)
	for i := range lines {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendLogLine(dst, &lines[i])
	}
	dst = append(dst, `],"cert":`...)
	dst = appendCert(dst, h.Cert)
	dst = append(dst, `,"tcp_end":`...)
	dst = appendTCPEnd(dst, h)
	dst = append(dst, `,"quic":`...)
	dst = appendQUIC(dst, h.QUIC)
	dst = append(dst, `,"not_tls_prefix":`...)
	if h.NotTLSPrefix != nil {
		// No copy: appendJSONString does not keep its argument.
		dst = appendJSONString(dst, unsafe.String(unsafe.SliceData(h.NotTLSPrefix), len(h.NotTLSPrefix)), true)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"timings":{"syn":`...)
	dst = appendTime(dst, h.SYNTime)
	dst = append(dst, `,"client_hello":`...)
	dst = appendTime(dst, h.ClientHelloTime)
	dst = append(dst, `,"first_answer":`...)
	dst = appendTime(dst, h.FirstAnswerTime)
	dst = append(dst, `,"end":`...)
	dst = appendTime(dst, h.EndTime)
	dst = append(dst, `,"answer_ms":`...)
	if !h.FirstAnswerTime.IsZero() && !h.ClientHelloTime.IsZero() {
		dst = strconv.AppendFloat(dst, float64(h.FirstAnswerTime.Sub(h.ClientHelloTime))/float64(time.Millisecond), 'f', 3, 64)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `},"packets":`...)
	dst = strconv.AppendUint(dst, h.Packets, 10)
	dst = append(dst, `,"first_packet":`...)
	dst = strconv.AppendUint(dst, h.FirstPacket, 10)
	dst = append(dst, `,"last_packet":`...)
	dst = strconv.AppendUint(dst, h.LastPacket, 10)
	dst = append(dst, `,"hello_segments":`...)
	dst = strconv.AppendInt(dst, int64(h.HelloSegments), 10)
	dst = append(dst, `,"hello_len":`...)
	dst = strconv.AppendInt(dst, int64(h.HelloLen), 10)
	dst = append(dst, `,"client_certificate":{"requested":`...)
	dst = appendBool(dst, h.CertRequested)
	dst = append(dst, `,"sent":"`...)
	dst = append(dst, h.ClientCert.String()...)
	dst = append(dst, `"},"encrypted_records":{"client":`...)
	dst = appendSizes(dst, h.ClientEncrypted)
	dst = append(dst, `,"server":`...)
	dst = appendSizes(dst, h.ServerEncrypted)
	dst = append(dst, `,"client_finished":`...)
	if h.ClientFinished > 0 {
		dst = strconv.AppendInt(dst, int64(h.ClientFinished-1), 10)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `},"ttl":{"server":`...)
	dst = appendTTL(dst, h.ServerTTL)
	dst = append(dst, `,"end":`...)
	dst = appendTTL(dst, h.EndTTL)
	dst = append(dst, '}')
	dst = append(dst, `,"gap":`...)
	dst = appendBool(dst, h.Gap)
	dst = append(dst, `,"ambiguous":`...)
	dst = appendBool(dst, h.Ambiguous)
	dst = append(dst, `,"history":`...)
	dst = appendJSONString(dst, h.History, true)
	return append(dst, '}')
}

func appendTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(dst, "null"...)
	}
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, tsLayout)
	return append(dst, '"')
}

func appendAddrPort(dst []byte, ap netip.AddrPort) []byte {
	if !ap.IsValid() {
		return append(dst, "null"...)
	}
	dst = append(dst, '"')
	dst = ap.AppendTo(dst)
	return append(dst, '"')
}

func appendAlert(dst []byte, a *handshake.AlertRecord) []byte {
	dst = append(dst, `{"sender":`...)
	if s := a.Sender.String(); s != "" {
		dst = appendJSONString(dst, s, false)
	} else {
		dst = append(dst, "null"...)
	}
	if a.Encrypted {
		dst = append(dst, `,"level":null,"description":null,"code":null,"encrypted":true`...)
	} else {
		dst = append(dst, `,"level":`...)
		if a.Level == tlsparse.AlertLevelWarning || a.Level == tlsparse.AlertLevelFatal {
			dst = appendJSONString(dst, a.Level.String(), false)
		} else {
			dst = append(dst, "null"...)
		}
		dst = append(dst, `,"description":"`...)
		dst = append(dst, a.Description.Name()...)
		dst = append(dst, `","code":`...)
		dst = strconv.AppendUint(dst, uint64(a.Description), 10)
		dst = append(dst, `,"encrypted":false`...)
	}
	dst = append(dst, `,"packet":`...)
	dst = strconv.AppendUint(dst, a.Packet, 10)
	dst = append(dst, `,"ts":`...)
	dst = appendTime(dst, a.Time)
	return append(dst, '}')
}

func appendFinding(dst []byte, f *diagnose.Finding) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, f.ID, false)
	dst = append(dst, `,"severity":`...)
	dst = appendJSONString(dst, f.Severity, false)
	dst = append(dst, `,"summary":`...)
	dst = appendJSONString(dst, f.Summary, false)
	dst = append(dst, `,"hint":`...)
	dst = appendJSONString(dst, f.Hint, false)
	dst = append(dst, `,"evidence":`...)
	dst = appendJSONStrings(dst, f.Evidence, false)
	dst = append(dst, `,"hints":[`...)
	for i, h := range f.Hints {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"client":`...)
		dst = appendJSONString(dst, h.Client, false)
		dst = append(dst, `,"text":`...)
		dst = appendJSONString(dst, h.Text, false)
		dst = append(dst, '}')
	}
	dst = append(dst, `],"nginx_log":`...)
	dst = appendNullableString(dst, f.NginxLog, false)
	return append(dst, '}')
}

// appendTCPEnd writes how TCP ended; null for a QUIC handshake.
func appendTCPEnd(dst []byte, h *handshake.Handshake) []byte {
	if h.Transport == handshake.TransportQUIC {
		return append(dst, "null"...)
	}
	dst = append(dst, `{"client_fin":`...)
	dst = appendBool(dst, h.ClientFIN)
	dst = append(dst, `,"server_fin":`...)
	dst = appendBool(dst, h.ServerFIN)
	dst = append(dst, `,"client_rst":`...)
	dst = appendBool(dst, h.ClientRST)
	dst = append(dst, `,"server_rst":`...)
	dst = appendBool(dst, h.ServerRST)
	dst = append(dst, `,"ended_by":`...)
	if s := h.EndedBy.String(); s != "" {
		dst = appendJSONString(dst, s, false)
	} else {
		dst = append(dst, "null"...)
	}
	return append(dst, '}')
}

// appendQUIC writes the QUIC facts of a QUIC handshake; null for TCP.
func appendQUIC(dst []byte, q *handshake.QUICInfo) []byte {
	if q == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, `{"version":`...)
	dst = appendJSONString(dst, q.Version.String(), false)
	dst = append(dst, `,"version_code":`...)
	dst = strconv.AppendUint(dst, uint64(q.Version), 10)
	dst = append(dst, `,"dcid":"`...)
	dst = hex.AppendEncode(dst, q.DCID)
	dst = append(dst, `","retry":`...)
	dst = appendBool(dst, q.Retry)
	dst = append(dst, `,"retry_dcid":`...)
	if q.Retry {
		dst = append(dst, '"')
		dst = hex.AppendEncode(dst, q.RetryDCID)
		dst = append(dst, '"')
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"version_negotiation":`...)
	dst = appendBool(dst, q.VersionNegotiation)
	dst = append(dst, `,"rejected_version":`...)
	if q.VersionNegotiation {
		dst = appendJSONString(dst, q.RejectedVersion.String(), false)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"server_versions":`...)
	dst = appendNames(dst, q.ServerVersions)
	dst = append(dst, `,"client_initials":`...)
	dst = strconv.AppendInt(dst, int64(q.ClientInitials), 10)
	dst = append(dst, `,"server_initials":`...)
	dst = strconv.AppendInt(dst, int64(q.ServerInitials), 10)
	dst = append(dst, `,"undecryptable":`...)
	dst = strconv.AppendInt(dst, int64(q.Undecryptable), 10)
	dst = append(dst, `,"close":`...)
	if c := q.Close; c != nil {
		dst = append(dst, `{"sender":`...)
		dst = appendJSONString(dst, c.Sender.String(), false)
		dst = append(dst, `,"error_code":`...)
		dst = strconv.AppendUint(dst, c.Code, 10)
		dst = append(dst, `,"application":`...)
		dst = appendBool(dst, c.Application)
		dst = append(dst, `,"frame_type":`...)
		dst = strconv.AppendUint(dst, c.FrameType, 10)
		dst = append(dst, `,"reason":`...)
		dst = appendJSONString(dst, c.Reason, true)
		dst = append(dst, `,"packet":`...)
		dst = strconv.AppendUint(dst, c.Packet, 10)
		dst = append(dst, '}')
	} else {
		dst = append(dst, "null"...)
	}
	return append(dst, '}')
}

func appendCert(dst []byte, c *handshake.Certificate) []byte {
	if c == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, `{"subject":`...)
	dst = appendJSONString(dst, c.Subject, true)
	dst = append(dst, `,"issuer":`...)
	dst = appendJSONString(dst, c.Issuer, true)
	dst = append(dst, `,"sans":`...)
	dst = appendJSONStrings(dst, c.SANs, true)
	dst = append(dst, `,"not_before":`...)
	dst = appendTime(dst, c.NotBefore)
	dst = append(dst, `,"not_after":`...)
	dst = appendTime(dst, c.NotAfter)
	dst = append(dst, `,"chain_len":`...)
	dst = strconv.AppendInt(dst, int64(c.ChainLen), 10)
	dst = append(dst, `,"parse_error":`...)
	dst = appendNullableString(dst, c.ParseError, true)
	return append(dst, '}')
}

func appendSizes(dst []byte, s []uint16) []byte {
	dst = append(dst, '[')
	for i, n := range s {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendUint(dst, uint64(n), 10)
	}
	return append(dst, ']')
}

func appendTTL(dst []byte, ttl uint8) []byte {
	if ttl == 0 {
		return append(dst, "null"...)
	}
	return strconv.AppendUint(dst, uint64(ttl), 10)
}
