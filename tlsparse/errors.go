package tlsparse

import (
	"errors"
	"strconv"
)

// ErrIncomplete reports that the input ends before the structure being
// parsed does; more bytes may complete it.
var ErrIncomplete = errors.New("tlsparse: need more bytes")

// ErrNotTLS reports that a direction's bytes do not start with a TLS record
// (or an SSLv2-compatible ClientHello).
var ErrNotTLS = errors.New("tlsparse: not tls")

// ErrRecordTooLong reports a record whose declared length exceeds
// 2^14+2048 bytes, the largest any TLS version permits (RFC 5246, 6.2.3).
var ErrRecordTooLong = errors.New("tlsparse: record too long")

// ErrHandshakeTooLong reports a handshake message whose declared length
// exceeds [MaxHandshakeLen]; such a message is never buffered.
var ErrHandshakeTooLong = errors.New("tlsparse: handshake message too long")

// ParseError describes malformed input: the field that could not be decoded,
// the byte offset where it starts (relative to the parsed buffer, or to the
// start of the stream for [Stream.Feed]) and what was wrong.
type ParseError struct {
	Field  string
	Offset int
	Msg    string
}

// Error returns "tlsparse: <field> at offset N: msg".
func (e *ParseError) Error() string {
	return "tlsparse: " + e.Field + " at offset " + strconv.Itoa(e.Offset) + ": " + e.Msg
}

func perr(field string, off int, msg string) error {
	return &ParseError{Field: field, Offset: off, Msg: msg}
}
