package quic

import (
	"errors"
	"strconv"
)

// ErrTruncated reports that a packet or frame ends before the structure
// being parsed does.
var ErrTruncated = errors.New("quic: truncated")

// ErrNotLongHeader reports a packet whose first bit is 0 (a short header,
// RFC 9000 §17.3): its connection ID length is not on the wire.
var ErrNotLongHeader = errors.New("quic: not a long header packet")

// ErrUnknownVersion reports a version whose Initial keys are not known.
var ErrUnknownVersion = errors.New("quic: unknown version")

// ErrAuth reports a packet that did not authenticate with the keys tried:
// not QUIC, another connection's, corrupted, or keys not derivable by an
// observer. Such a packet is never trusted.
var ErrAuth = errors.New("quic: packet does not authenticate")

// ErrCryptoTooLarge reports CRYPTO data beyond the reassembler's cap.
var ErrCryptoTooLarge = errors.New("quic: crypto stream beyond limit")

// ErrCryptoFragmented reports CRYPTO data in more disjoint pieces than the
// reassembler keeps.
var ErrCryptoFragmented = errors.New("quic: crypto stream too fragmented")

// ErrCryptoConflict reports CRYPTO data that disagrees with bytes already
// received at the same offsets. The first bytes are kept.
var ErrCryptoConflict = errors.New("quic: crypto data differs from earlier bytes at the same offset")

// ParseError describes a malformed packet or frame: the field, its byte
// offset in the parsed buffer and what was wrong.
type ParseError struct {
	Field  string
	Offset int
	Msg    string
}

// Error returns "quic: <field> at offset N: msg".
func (e *ParseError) Error() string {
	return "quic: " + e.Field + " at offset " + strconv.Itoa(e.Offset) + ": " + e.Msg
}

func perr(field string, off int, msg string) error {
	return &ParseError{Field: field, Offset: off, Msg: msg}
}
