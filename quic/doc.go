// Package quic reads the cleartext-equivalent part of QUIC handshakes: long
// headers (RFC 9000 §17.2, RFC 9369 §3.2), Version Negotiation and Retry
// packets, Initial packet protection (RFC 9001 §5: keys derived from the
// client's Destination Connection ID, so any observer can remove it), the
// frames an Initial packet may carry (PADDING, PING, ACK, CRYPTO,
// CONNECTION_CLOSE) and a bounded reassembler for the CRYPTO stream that
// carries the TLS ClientHello and ServerHello.
//
// It uses the standard library only and does no I/O. Parsers take []byte,
// alias their input (each doc comment says so) and never trust a length
// from the wire. Nothing here panics on any input.
//
// Only Initial packets can be opened by an observer: Handshake and 1-RTT
// packets use keys from the TLS key exchange.
package quic
