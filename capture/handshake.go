package capture

import (
	"net/netip"
	"time"
)

// Outcome is how a handshake ended. The words are stable: they appear in
// text output, JSON and metric labels (see DESIGN.md).
type Outcome uint8

// Outcomes, in the order of DESIGN.md.
const (
	OutcomeIncomplete   Outcome = iota // the capture ended or lost segments first
	OutcomeEstablished                 // ServerHello seen and the handshake went on
	OutcomeServerAlert                 // the server sent a plaintext alert
	OutcomeClientAlert                 // the client sent a plaintext alert
	OutcomeServerReset                 // RST from the server, no TLS answer
	OutcomeServerClosed                // FIN from the server, no TLS answer
	OutcomeNotTLS                      // the server answered with non-TLS bytes
	OutcomeNoResponse                  // nothing from the server within the timeout
)

var outcomeNames = [...]string{
	OutcomeIncomplete:   "incomplete",
	OutcomeEstablished:  "established",
	OutcomeServerAlert:  "server_alert",
	OutcomeClientAlert:  "client_alert",
	OutcomeServerReset:  "server_reset",
	OutcomeServerClosed: "server_closed",
	OutcomeNotTLS:       "not_tls",
	OutcomeNoResponse:   "no_response",
}

// String returns the outcome's stable word.
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "unknown"
}

// Outcomes lists every outcome, for closed metric label sets.
func Outcomes() []Outcome {
	return []Outcome{OutcomeEstablished, OutcomeServerAlert, OutcomeClientAlert,
		OutcomeServerReset, OutcomeServerClosed, OutcomeNotTLS, OutcomeNoResponse, OutcomeIncomplete}
}

// Side names an endpoint of a flow relative to the ClientHello.
type Side uint8

// Sides.
const (
	SideNone Side = iota
	SideClient
	SideServer
)

// String returns "client", "server" or "".
func (s Side) String() string {
	switch s {
	case SideClient:
		return "client"
	case SideServer:
		return "server"
	}
	return ""
}

// AlertRecord is one alert seen on a flow, with its sender.
type AlertRecord struct {
	Sender Side
	// Level is 1 (warning) or 2 (fatal); 0 when the alert was encrypted.
	Level uint8
	// Code is the alert description; meaningful only when !Encrypted.
	Code      uint8
	Encrypted bool
	// Packet is the 1-based index of the packet (in the whole capture) that
	// completed the alert record.
	Packet uint64
	Time   time.Time
}

// Certificate summarises the server's leaf certificate (TLS <= 1.2 only:
// TLS 1.3 encrypts it).
type Certificate struct {
	Subject    string
	Issuer     string
	SANs       []string
	NotBefore  time.Time
	NotAfter   time.Time
	ChainLen   int
	ParseError string // non-empty when the leaf did not parse
}

// Handshake is the finished record of one TLS handshake: one per connection
// in which a ClientHello was seen. Every string and slice is owned by the
// record (copied out of capture buffers).
type Handshake struct {
	// Client is the ClientHello's sender, Server the other end.
	Client, Server netip.AddrPort
	Transport      string // "tcp" or "quic"

	// Timestamps on packet time. Zero when not seen.
	SYNTime         time.Time // first SYN of the connection, if captured
	ClientHelloTime time.Time
	FirstAnswerTime time.Time // first byte or FIN/RST from the server after the hello
	EndTime         time.Time // when the outcome was decided (or the flow ended)

	// ClientHello facts.
	HasSNI           bool
	ServerName       string   // first host_name entry, raw bytes as a Go string (may be invalid UTF-8)
	SNIIsIP          bool     // the SNI is an IP literal (RFC 6066 forbids it)
	SNIInvalid       bool     // empty, or not a valid DNS host name
	ClientVersions   []string // offered, highest first, e.g. "TLS 1.3"
	ClientLegacyVer  uint16
	ALPN             []string
	CipherCount      int
	OffersSession    bool // non-empty session id or a session ticket / PSK offered
	OffersPSK        bool // pre_shared_key extension present (TLS 1.3 resumption)
	OffersTicket     bool // non-empty session_ticket extension (TLS <= 1.2 resumption)
	SessionIDLen     int
	HelloSegments    int    // TCP segments the ClientHello spanned
	HelloLen         int    // ClientHello message length
	SSLv2Hello       bool   // the hello used the SSLv2-compatible format
	JA3, JA3String   string // JA3 MD5 and its input string
	JA4, JA4R        string
	ECHOffered       bool // encrypted_client_hello (outer) present
	Extensions       []uint16
	ClientHelloError string // a parse error of the ClientHello, if any

	// ServerHello facts.
	ServerHelloSeen bool
	HRR             bool   // a HelloRetryRequest was seen
	Version         string // negotiated version, "" when unknown
	VersionCode     uint16
	Cipher          string // IANA name, "" when unknown
	CipherCode      uint16
	NextProtocol    string // ALPN selected by the server
	Resumed         bool   // the server resumed a session (TLS <= 1.2 echoed session id / TLS 1.3 pre_shared_key selected)
	KeyShareGroup   string

	Cert *Certificate // nil when not seen

	Alerts []AlertRecord

	// How TCP ended and who ended it.
	ClientFIN, ServerFIN, ClientRST, ServerRST bool
	// EndedBy is the side whose FIN or RST came first (SideNone if neither).
	EndedBy Side

	// NotTLSPrefix holds the first bytes (up to 64) of a non-TLS answer.
	NotTLSPrefix []byte

	// Counts.
	Packets        uint64 // packets of the flow seen while tracked
	ClientRecords  int
	ServerRecords  int
	ClientAppData  int // application-data (or encrypted) records from the client
	ServerAppData  int
	ClientCCS      bool
	ServerCCS      bool
	ClientDataSent bool // the client sent application data after the handshake

	// History is a Zeek-style string: one letter per message, upper case = client.
	History string

	Outcome Outcome
	// Gap is true when the reassembler gave up on a hole in either direction.
	Gap bool
	// Ambiguous is true when retransmitted bytes disagreed with the ones kept.
	Ambiguous bool

	// FirstPacket and LastPacket are 1-based capture packet indexes (as in
	// Wireshark), for evidence: the flow's first packet and the last one
	// it had when its outcome was decided.
	FirstPacket uint64
	LastPacket  uint64

	// QUIC holds the QUIC facts of a handshake with Transport "quic"; nil
	// otherwise.
	QUIC *QUICInfo
}

// Established reports whether the outcome is OutcomeEstablished.
func (h *Handshake) Established() bool { return h.Outcome == OutcomeEstablished }

// LastAlert returns the last alert seen, or nil.
func (h *Handshake) LastAlert() *AlertRecord {
	if len(h.Alerts) == 0 {
		return nil
	}
	return &h.Alerts[len(h.Alerts)-1]
}

// FirstServerAlert returns the first alert sent by the server, or nil.
func (h *Handshake) FirstServerAlert() *AlertRecord {
	for i := range h.Alerts {
		if h.Alerts[i].Sender == SideServer {
			return &h.Alerts[i]
		}
	}
	return nil
}
