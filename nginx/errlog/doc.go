// Package errlog reads nginx error logs: it parses the lines nginx writes
// when a TLS handshake (or a TLS read) with an upstream fails, follows a log
// file live the way `tail -F` does, and joins each line to the handshake that
// explains it (see [Joiner]).
//
// nginx writes one line per event, in local time to the second:
//
//	2026/11/26 10:00:00 [error] 123#123: *45 SSL_do_handshake() failed (SSL: error:0A000410:SSL routines::sslv3 alert handshake failure:SSL alert number 40) while SSL handshaking to upstream, client: 127.0.0.1, server: localhost, request: "GET / HTTP/1.1", upstream: "https://127.0.0.1:8443/", host: "localhost:8080"
//
// [Parse] reads such a line into an [Entry] with a typed [Kind] of failure.
// Lines that are not about upstream TLS give [ErrNotTLS]; lines that are not
// nginx error-log lines at all give a *[ParseError]. Neither is fatal to a
// reader: [Scanner] and [Follower] count and skip them, and skip lines longer
// than a cap (nginx itself never writes more than 2048 bytes per line), so
// memory stays bounded for any input.
//
// Log lines are attacker-controlled in part (the request line, the Host
// header): [Entry.Raw] keeps the bytes as read; escape them for output.
package errlog
