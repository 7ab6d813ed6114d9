package errlog

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/hellowatch/hellowatch/tlsparse"
)

// Level is an nginx log level, as written between brackets.
type Level uint8

// Levels, lowest first (nginx's own order).
const (
	LevelUnknown Level = iota
	LevelDebug
	LevelInfo
	LevelNotice
	LevelWarn
	LevelError
	LevelCrit
	LevelAlert
	LevelEmerg
)

var levelNames = [...]string{"unknown", "debug", "info", "notice", "warn", "error", "crit", "alert", "emerg"}

// String returns the level as nginx writes it ("crit").
func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return "level(" + strconv.Itoa(int(l)) + ")"
}

func parseLevel(b []byte) Level {
	for i := LevelDebug; int(i) < len(levelNames); i++ {
		if string(b) == levelNames[i] {
			return i
		}
	}
	return LevelUnknown
}

// Kind says how an upstream TLS connection failed, as nginx told it.
type Kind uint8

// Kinds of failure.
const (
	// KindOther is an upstream TLS line of a form this package does not
	// know; Reason holds OpenSSL's reason text when there was one.
	KindOther Kind = iota
	// KindAlert: the upstream sent a TLS alert (Alert), e.g.
	// "sslv3 alert handshake failure:SSL alert number 40".
	KindAlert
	// KindWrongVersion: the answer was not TLS ("wrong version number"),
	// e.g. a plain-HTTP port.
	KindWrongVersion
	// KindVerifyError: nginx rejected the certificate
	// ("upstream SSL certificate verify error: (19:...)"); VerifyCode and
	// VerifyText hold OpenSSL's X509_V_ERR code and text.
	KindVerifyError
	// KindNameMismatch: the certificate does not match Name
	// ("upstream SSL certificate does not match "NAME"").
	KindNameMismatch
	// KindPeerClosed: the upstream closed the connection during the
	// handshake ("peer closed connection in SSL handshake"), with no errno
	// or one other than ECONNRESET.
	KindPeerClosed
	// KindPeerReset: the connection was reset during the handshake (errno
	// 104, ECONNRESET).
	KindPeerReset
	// KindTimeout: the upstream did not answer in time ("upstream timed out
	// (110: Connection timed out)").
	KindTimeout
	// KindUnexpectedEOF: OpenSSL 3's "unexpected eof while reading".
	KindUnexpectedEOF
	// KindSSLError: another OpenSSL error (Reason, OpenSSLCode).
	KindSSLError
)

var kindNames = [...]string{"other", "alert", "wrong_version", "verify_error", "name_mismatch", "peer_closed", "peer_reset", "timeout", "unexpected_eof", "ssl_error"}

// String returns a snake_case name for the kind.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Entry is one nginx error-log line about an upstream TLS connection.
//
// Strings are copies: an Entry does not alias the line it was parsed from.
type Entry struct {
	// File and Line say where the line was read (1-based); set by Scanner
	// and Follower, zero from Parse.
	File string
	Line int64

	// Time is nginx's timestamp (to the second) in the zone given to Parse.
	Time  time.Time
	Level Level
	PID   int
	TID   int
	// Conn is nginx's connection number (the "*45"); HasConn is false when
	// the line has none.
	Conn    uint64
	HasConn bool

	Kind Kind
	// Func is the OpenSSL call that failed: "SSL_do_handshake", "SSL_read",
	// "SSL_write", "SSL_shutdown", or "" for nginx's own messages.
	Func string
	// Alert is the TLS alert the upstream sent (KindAlert).
	Alert    tlsparse.AlertDescription
	HasAlert bool
	// OpenSSLCode is the first OpenSSL error code (0x0A000410), 0 when none.
	OpenSSLCode uint32
	// Reason is OpenSSL's reason text of that error ("sslv3 alert
	// handshake failure").
	Reason string
	// Errno is the system error nginx added ("(104: Connection reset by
	// peer)" gives 104), 0 when none.
	Errno int
	// VerifyCode and VerifyText are the X509_V_ERR code and text
	// (KindVerifyError).
	VerifyCode int
	VerifyText string
	// Name is the name the certificate does not match (KindNameMismatch).
	Name string

	// Action is what nginx was doing ("SSL handshaking to upstream",
	// "reading response header from upstream").
	Action string
	// Handshake is true when the failure happened during the handshake
	// (Action "SSL handshaking to upstream").
	Handshake bool

	// Client is the downstream client's address, Server the server{} name.
	Client netip.Addr
	Server string
	// Host is the request's Host header, "" when none.
	Host string
	// Upstream is the upstream field as logged ("https://127.0.0.1:8443/",
	// "grpcs://[2001:db8::1]:443", "127.0.0.1:8443" for the stream module).
	Upstream string
	// Scheme is the upstream URL's scheme ("https", "grpcs"), "" for the
	// stream module.
	Scheme string
	// UpstreamAddr is the upstream peer's address, invalid when the field
	// names no IP:port (a unix socket).
	UpstreamAddr netip.AddrPort

	// Raw is the whole line as read, without its line ending. It is
	// attacker-controlled in part: escape it for output.
	Raw string
}
