// Package handshake holds the record of one TLS handshake as capture fills
// it and every later stage reads it: addresses, ClientHello and ServerHello
// facts, alerts, how the connection ended, and its outcome. Values are typed
// (tlsparse.Version, tlsparse.CipherSuite, tlsparse.AlertDescription, …);
// names are made where output is written, by the types' String methods.
//
// It is a leaf: it imports only tlsparse, quic and the standard library, so
// that diagnose, report and any later stage build and test without cgo or
// gopacket (docs/ARCHITECTURE.md, "Packages").
package handshake
