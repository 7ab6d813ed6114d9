// Package edge is a test upstream that behaves like an SNI-strict TLS edge
// (Cloudflare's, in the headline incident): it reads the first ClientHello of
// each connection with a tiny hand parser, refuses a hello without a served
// server name the way the configured Mode says, and relays a hello with a
// served name to a real TLS backend (or terminates it with crypto/tls).
//
// It exists to make samples and end-to-end tests with real proxies; it is not
// part of hellowatch itself.
package edge
