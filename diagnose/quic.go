package diagnose

import (
	"slices"
	"strconv"
	"strings"

	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/quic"
	"github.com/hellowatch/hellowatch/tlsparse"
)

// QUIC handshakes (Transport QUIC) have no TCP connection, no FIN and no
// RST: the ClientHello rides in the client's first Initial packet, a
// refusal is a CONNECTION_CLOSE frame, and a TLS alert travels as its
// error code 0x0100+alert (CRYPTO_ERROR, RFC 9001 §4.8). The findings say
// that instead of the TCP words.

func (d *diag) isQUIC() bool { return d.h.Transport == handshake.TransportQUIC }

// quicTransportErrors names the transport error codes of RFC 9000 §20.1.
var quicTransportErrors = [...]string{
	0x00: "NO_ERROR",
	0x01: "INTERNAL_ERROR",
	0x02: "CONNECTION_REFUSED",
	0x03: "FLOW_CONTROL_ERROR",
	0x04: "STREAM_LIMIT_ERROR",
	0x05: "STREAM_STATE_ERROR",
	0x06: "FINAL_SIZE_ERROR",
	0x07: "FRAME_ENCODING_ERROR",
	0x08: "TRANSPORT_PARAMETER_ERROR",
	0x09: "CONNECTION_ID_LIMIT_ERROR",
	0x0a: "PROTOCOL_VIOLATION",
	0x0b: "INVALID_TOKEN",
	0x0c: "APPLICATION_ERROR",
	0x0d: "CRYPTO_BUFFER_EXCEEDED",
	0x0e: "KEY_UPDATE_ERROR",
	0x0f: "AEAD_LIMIT_REACHED",
	0x10: "NO_VIABLE_PATH",
}

// QUICCode renders a QUIC error code as 0x plus at least four hex digits:
// "0x0150".
func QUICCode(c uint64) string {
	s := strconv.FormatUint(c, 16)
	for len(s) < 4 {
		s = "0" + s
	}
	return "0x" + s
}

// alertWords says how an alert was sent: "a fatal handshake_failure (40)
// alert" over TCP, "a CONNECTION_CLOSE with error 0x0128, the TLS alert
// handshake_failure (40)" over QUIC.
func (d *diag) alertWords(a *handshake.AlertRecord) string {
	if d.isQUIC() && !a.Encrypted {
		return "a CONNECTION_CLOSE with error " + QUICCode(0x100+uint64(a.Description)) + ", the TLS alert " + alertLabel(a.Description)
	}
	return "a fatal " + alertLabel(a.Description) + " alert"
}

// quicAlertEvidence: "server sent CONNECTION_CLOSE with error 0x0150 (TLS
// alert internal_error (80)) in packet 2", plus the reason phrase when the
// recorded close is this alert's.
func (d *diag) quicAlertEvidence(a *handshake.AlertRecord) string {
	s := a.Sender.String() + " sent CONNECTION_CLOSE with error " + QUICCode(0x100+uint64(a.Description)) +
		" (TLS alert " + alertLabel(a.Description) + ")"
	if q := d.h.QUIC; q != nil && q.Close != nil && q.Close.Sender == a.Sender && q.Close.Code == 0x100+uint64(a.Description) && q.Close.Reason != "" {
		s += " reason " + strconv.Quote(q.Close.Reason)
	}
	return s
}

// quicCloseWords describes the CONNECTION_CLOSE that ended a QUIC
// handshake without a TLS alert: "a CONNECTION_CLOSE with transport error
// 0x0002 CONNECTION_REFUSED".
func (d *diag) quicCloseWords() string {
	q := d.h.QUIC
	if q == nil || q.Close == nil {
		return "a CONNECTION_CLOSE"
	}
	c := q.Close
	switch {
	case c.Application:
		return "a CONNECTION_CLOSE with application error " + QUICCode(c.Code)
	case c.Code < uint64(len(quicTransportErrors)):
		return "a CONNECTION_CLOSE with transport error " + QUICCode(c.Code) + " " + quicTransportErrors[c.Code]
	case c.Code >= 0x100 && c.Code <= 0x1ff:
		return "a CONNECTION_CLOSE with error " + QUICCode(c.Code) + ", the TLS alert " + alertLabel(tlsparse.AlertDescription(c.Code-0x100))
	}
	return "a CONNECTION_CLOSE with transport error " + QUICCode(c.Code)
}

// quicCloseEvidence: "server sent a CONNECTION_CLOSE with transport error
// 0x0002 CONNECTION_REFUSED in packet 3 (reason "busy")".
func (d *diag) quicCloseEvidence(side handshake.Side) string {
	q := d.h.QUIC
	if q == nil || q.Close == nil || q.Close.Sender != side {
		return side.String() + " closed the connection (CONNECTION_CLOSE)" + d.since(d.h.EndTime)
	}
	s := side.String() + " sent " + d.quicCloseWords()
	if q.Close.Packet > 0 {
		s += " in packet " + strconv.FormatUint(q.Close.Packet, 10)
	}
	if q.Close.Reason != "" {
		s += " (reason " + strconv.Quote(q.Close.Reason) + ")"
	}
	return s
}

// quicNoAnswer is the evidence of a silent QUIC server.
func (d *diag) quicNoAnswer() []string {
	h := d.h
	ev := []string{"no Initial packet from the server" + waited(h)}
	if q := h.QUIC; q != nil && q.ClientInitials > 1 {
		ev = append(ev, "the client sent "+strconv.Itoa(q.ClientInitials)+" Initial packets (retransmissions included)")
	}
	if q := h.QUIC; q != nil && q.Undecryptable > 0 {
		ev = append(ev, strconv.Itoa(q.Undecryptable)+" packets of the connection looked like Initials but did not decrypt")
	}
	return append(ev, "QUIC sends the ClientHello in the client's first packet, with no connection set up before it: a closed UDP port, a firewall dropping UDP and a server ignoring the Initial all look like this")
}

// quicVersionRefused reports whether a QUIC attempt ended at the server's
// Version Negotiation packet: the client did not start over in any version
// it listed (the tracker decides such a flow server_closed).
func (d *diag) quicVersionRefused() bool {
	h := d.h
	q := h.QUIC
	return d.isQUIC() && q != nil && q.VersionNegotiation &&
		h.Outcome == handshake.OutcomeServerClosed && !h.ServerHelloSeen && q.ServerInitials == 0
}

var quicVersionHints = []Hint{
	{"curl", "use a curl whose HTTP/3 backend (ngtcp2, quiche) speaks a version the server lists; QUIC v1 (RFC 9000) is the one every server speaks"},
	{"go", "include `quic.Version1` in quic-go's `quic.Config.Versions` (or leave it nil for the defaults)"},
}

const quicVersionHint = "let the client offer a QUIC version the server lists: QUIC v1 (RFC 9000) is the one every HTTP/3 server speaks"

// quicVersionMismatch: the server answered the client's first Initial with
// Version Negotiation and the client had no version in common with it.
func (d *diag) quicVersionMismatch() {
	h := d.h
	q := h.QUIC
	listed := joinQUICVersions(q.ServerVersions)
	if listed == "" {
		listed = "no version"
	}
	ev := append(d.helloEvidence(),
		"client's first Initial used QUIC "+q.RejectedVersion.String(),
		"server answered with a Version Negotiation packet listing "+listed+" in packet "+strconv.FormatUint(q.VNPacket, 10)+d.since(h.EndTime),
		"the client sent no Initial in any of those versions afterwards")
	ev = noServerHello(ev)
	d.add(Finding{
		ID:       VersionMismatch,
		Severity: SeverityError,
		Summary: "The server does not speak the client's QUIC version (" + q.RejectedVersion.String() + ") and answered with Version Negotiation listing " +
			listed + "; the client speaks none of those, so the attempt ended before any TLS answer: enable a QUIC version both sides support.",
		Evidence: ev,
		Hint:     quicVersionHint,
		Hints:    slices.Clone(quicVersionHints),
	})
}

// joinQUICVersions renders versions as "v1, grease-0x1a2a3a4a".
func joinQUICVersions(vs []quic.Version) string {
	var b strings.Builder
	for i, v := range vs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(v.String())
	}
	return b.String()
}
