// Package confirm turns a diagnosis into a fact: it takes the ClientHello of
// a failed handshake out of a capture, rebuilds it with the one change its
// finding blames (the SNI, the versions, the ALPN list, the key-share
// groups), replays the hello as captured and each variant to the server on
// a connection of its own, and reports each first answer. When the captured
// hello is still refused and a variant gets a ServerHello, the fix works.
//
// It is the `openssl s_client -servername` step of the incident that
// hellowatch exists for, done with the proxy's own hello: active scanners
// test a server's configuration, this tests the handshake that failed.
//
// The package has three parts: [Load] and [Capture.Select] read the
// capture (records from capture and diagnose, hello bytes by a second
// pass over the packets), [Plan] chooses the variants (the byte-level
// rewriting is tlsparse's, which also parses every rebuilt hello back), and
// [Run] probes the server: one TCP connection per variant, a pause
// between, closed right after the server's first answer. Nothing but
// ClientHellos is ever sent (no Finished, no application data), and only
// to the flow's server or the address the caller names.
package confirm
