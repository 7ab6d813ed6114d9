package handshake

import (
	"net/netip"
	"time"

	"github.com/hellowatch/hellowatch/quic"
	"github.com/hellowatch/hellowatch/tlsparse"
)

// Outcome is how a handshake ended. The words are stable: they appear in
// text output, JSON and metric labels (docs/ARCHITECTURE.md, "Records").
type Outcome uint8

// Outcomes. Their order is the order of the README's outcome table.
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

// MaxEncrypted caps the encrypted record sizes kept per side.
const MaxEncrypted = 8

// ClientCert is what a TLS <= 1.2 client's Certificate message held.
type ClientCert uint8

// ClientCert values.
const (
	ClientCertNone  ClientCert = iota // no Certificate message from the client
	ClientCertEmpty                   // an empty certificate_list: the client has none to give
	ClientCertSent                    // one or more certificates
)

// String returns "none", "empty" or "sent".
func (c ClientCert) String() string {
	switch c {
	case ClientCertEmpty:
		return "empty"
	case ClientCertSent:
		return "sent"
	}
	return "none"
}

// Transport is the protocol that carried the handshake.
type Transport uint8

// Transports.
const (
	TransportUnknown Transport = iota
	TransportTCP               // TLS over TCP
	TransportQUIC              // QUIC (RFC 9000) with TLS 1.3 in CRYPTO frames (RFC 9001)
)

// String returns "tcp", "quic" or "" for TransportUnknown.
func (t Transport) String() string {
	switch t {
	case TransportTCP:
		return "tcp"
	case TransportQUIC:
		return "quic"
	}
	return ""
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
	// Level is warning or fatal; 0 when the alert was encrypted.
	Level tlsparse.AlertLevel
	// Description is the alert's code; meaningful only when !Encrypted.
	Description tlsparse.AlertDescription
	Encrypted   bool
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
	Transport      Transport

	// Timestamps on packet time. Zero when not seen.
	SYNTime         time.Time // first SYN of the connection, if captured
	ClientHelloTime time.Time
	FirstAnswerTime time.Time // first byte or FIN/RST from the server after the hello
	EndTime         time.Time // when the outcome was decided (or the flow ended)

	// ClientHello facts.
	HasSNI           bool
	ServerName       string             // first host_name entry, raw bytes as a Go string (may be invalid UTF-8)
	SNIIsIP          bool               // the SNI is an IP literal (RFC 6066 forbids it)
	SNIInvalid       bool               // empty, or not a valid DNS host name
	ClientVersions   []tlsparse.Version // offered, highest first, GREASE left out
	ClientLegacyVer  tlsparse.Version
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
	HRR             bool                 // a HelloRetryRequest was seen
	Version         tlsparse.Version     // negotiated version, 0 when unknown
	Cipher          tlsparse.CipherSuite // selected suite, 0 when unknown (TLS_NULL_WITH_NULL_NULL is never negotiated)
	NextProtocol    string               // ALPN selected by the server
	Resumed         bool                 // the server resumed a session (TLS <= 1.2 echoed session id / TLS 1.3 pre_shared_key selected)
	KeyShareGroup   tlsparse.NamedGroup  // the server's key_share group, 0 when none
	// ECDHGroup is the named curve of the server's ServerKeyExchange for an
	// ECDHE suite (TLS <= 1.2), 0 otherwise.
	ECDHGroup tlsparse.NamedGroup

	Cert *Certificate // nil when not seen

	// Client certificates. CertRequested: the server sent a
	// CertificateRequest (visible in TLS <= 1.2). ClientCert: what the
	// client's Certificate message held (TLS <= 1.2).
	CertRequested bool
	ClientCert    ClientCert

	// Encrypted records (TLS 1.3 after the ServerHello; TLS <= 1.2 after a
	// side's ChangeCipherSpec): their record lengths in order, the first
	// MaxEncrypted of each side, so that what TLS 1.3 hides can be
	// inferred from sizes and order. ClientFinished is 1 + the index in
	// ClientEncrypted of the record taken as the client's Finished (TLS
	// 1.3: the first of a Finished's size, 53 or 69 bytes; 0 when none
	// was seen); ServerBeforeFinished counts the server's encrypted records
	// before it.
	ClientEncrypted, ServerEncrypted []uint16
	ClientFinished                   int
	ServerBeforeFinished             int

	Alerts []AlertRecord

	// TCP timing and TTLs, for telling the server's packets from a
	// middlebox's: the SYN-ACK's time (zero if not captured), the TTL (IPv6
	// hop limit) of the server's SYN-ACK or, without one, of its first
	// packet after the hello, and the TTL of the server side's RST or FIN
	// that ended the connection (0 when not seen).
	SYNACKTime time.Time
	ServerTTL  uint8
	EndTTL     uint8

	// ClientKeyShares are the groups of the ClientHello's key_share
	// entries, in order (GREASE included).
	ClientKeyShares []tlsparse.NamedGroup

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

	// History is one letter per message in the letters of Zeek's
	// ssl_history (upper case = client): C S J X K R N Y G F T O ...
	// for handshake messages, I for ChangeCipherSpec, L for an alert
	// (plaintext or encrypted), and D for a run of records that were
	// application data or encrypted (QUIC: Handshake packets). At most 64
	// letters. Zeek's own ssl_history is a prefix of it without the D runs
	// (see report's Zeek output).
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

	// QUIC holds the QUIC facts of a handshake with Transport QUIC; nil
	// otherwise.
	QUIC *QUICInfo

	// Tunnel lists the encapsulations the flow's packets came in, outermost
	// first, as seen on the packet that started the ClientHello; nil when
	// the flow was not tunnelled. Client and Server are the inner
	// endpoints.
	Tunnel []Tunnel
}

// TunnelType is an encapsulation around a flow's packets. The words are
// stable: they appear in JSON and text output.
type TunnelType uint8

// Tunnel types.
const (
	TunnelUnknown TunnelType = iota
	TunnelIPIP               // IPv4 in IPv4 (IP protocol 4; Calico's IP-in-IP)
	Tunnel6in4               // IPv6 in IPv4 (IP protocol 41; sit)
	Tunnel4in6               // IPv4 in IPv6 (next header 4; ip6tnl, SRv6)
	Tunnel6in6               // IPv6 in IPv6 (next header 41; ip6tnl, SRv6)
	TunnelGRE                // GRE (IP protocol 47), IP or Ethernet inside; PPTP's enhanced GRE
	TunnelERSPAN             // ERSPAN type I, II or III in GRE (port mirroring)
	TunnelVXLAN              // VXLAN (RFC 7348), UDP 4789 or a configured port
	TunnelGENEVE             // GENEVE (RFC 8926), UDP 6081
	TunnelMPLS               // an MPLS label stack
	TunnelPPPoE              // a PPPoE session
	TunnelCAPWAP             // CAPWAP data channel (RFC 5415), UDP 5247
	TunnelGTP                // GTP-U (3GPP TS 29.281), UDP 2152
	numTunnelTypes
)

var tunnelNames = [...]string{
	TunnelUnknown: "unknown",
	TunnelIPIP:    "ipip",
	Tunnel6in4:    "6in4",
	Tunnel4in6:    "4in6",
	Tunnel6in6:    "6in6",
	TunnelGRE:     "gre",
	TunnelERSPAN:  "erspan",
	TunnelVXLAN:   "vxlan",
	TunnelGENEVE:  "geneve",
	TunnelMPLS:    "mpls",
	TunnelPPPoE:   "pppoe",
	TunnelCAPWAP:  "capwap",
	TunnelGTP:     "gtp",
}

// String returns the tunnel type's stable word.
func (t TunnelType) String() string {
	if t < numTunnelTypes {
		return tunnelNames[t]
	}
	return "unknown"
}

// IDName names what Tunnel.ID holds for this type: "vni" (VXLAN,
// GENEVE), "key" (GRE), "session" (ERSPAN, PPPoE), "label" (MPLS), "teid"
// (GTP-U); "" for types without one (IP in IP, CAPWAP).
func (t TunnelType) IDName() string {
	switch t {
	case TunnelVXLAN, TunnelGENEVE:
		return "vni"
	case TunnelGRE:
		return "key"
	case TunnelERSPAN, TunnelPPPoE:
		return "session"
	case TunnelMPLS:
		return "label"
	case TunnelGTP:
		return "teid"
	}
	return ""
}

// Tunnel is one encapsulation layer.
type Tunnel struct {
	Type TunnelType
	// HasID says whether ID is set: a GRE header without a key has none.
	HasID bool
	// ID is the layer's identifier, as IDName names it; for MPLS the
	// bottom label of the stack.
	ID uint32
	// Src and Dst are the outer endpoints of the client's packet: IP
	// addresses, with the UDP ports for UDP tunnels (port 0 otherwise).
	// Invalid (the zero value) for MPLS and PPPoE, which have no IP
	// header of their own.
	Src, Dst netip.AddrPort
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

// QUICInfo holds what a QUIC handshake shows beyond TLS. Every field is
// owned by the record.
type QUICInfo struct {
	Version quic.Version
	// DCID is the client's original Destination Connection ID, the one the
	// Initial keys were derived from.
	DCID []byte
	// Retry is true when the server sent a Retry whose integrity tag
	// verified; RetryDCID is the connection ID the client then used.
	Retry     bool
	RetryDCID []byte
	// VersionNegotiation is true when the server answered with a Version
	// Negotiation packet: RejectedVersion is the version of the client's
	// first Initial, ServerVersions the versions the packet listed (at most
	// 16, GREASE included), VNPacket its packet index. A client
	// that starts over in one of them on the same 4-tuple continues the
	// record: Version and DCID are then those of the new attempt.
	VersionNegotiation bool
	RejectedVersion    quic.Version
	ServerVersions     []quic.Version
	VNPacket           uint64
	// ClientInitials and ServerInitials count the Initial packets that
	// authenticated; HelloPackets is the number of the client's Initial
	// packets that carried ClientHello bytes.
	ClientInitials, ServerInitials int
	HelloPackets                   int
	// Undecryptable counts packets of the connection that looked like
	// Initial packets but did not authenticate (or were malformed).
	Undecryptable int
	// Close is the first CONNECTION_CLOSE seen in an Initial packet.
	Close *QUICClose
}

// QUICClose is a CONNECTION_CLOSE frame read from an Initial packet.
type QUICClose struct {
	Sender Side
	// Code is the error code: a transport error (0x0100+alert for a TLS
	// alert, RFC 9001 §4.8), or an application error when Application.
	Code        uint64
	Application bool
	FrameType   uint64 // the frame that caused a transport error
	// Reason is the peer's reason phrase: untrusted bytes, capped at 256.
	Reason string
	Packet uint64
}
