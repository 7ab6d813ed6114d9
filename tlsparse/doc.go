// Package tlsparse is a hand-written, allocation-conscious parser for the
// plaintext part of TLS handshakes, as seen passively on the wire.
//
// It provides an incremental per-direction record stream ([Stream]) that
// reassembles handshake messages across records and reports alerts,
// ChangeCipherSpec and ciphertext records to a [Handler]; parsers for the
// ClientHello (every extension by IANA number and name, GREASE aware), the
// ServerHello and HelloRetryRequest, alerts, the TLS 1.2 Certificate message
// and the SSLv2-compatible ClientHello; and the JA3 and JA4 client
// fingerprints.
//
// Parsers take a []byte, reset their receiver and alias the input: []byte
// fields of a parsed message point into the caller's buffer and are only valid
// as long as that buffer is. Callers that keep a field beyond a [Handler]
// callback must copy it. Nothing in this package does I/O, logs or panics on
// any input.
package tlsparse
