package diagnose

import (
	"strconv"

	"github.com/hellowatch/hellowatch/handshake"
)

// Findings about packets the server did not send.

// minRTTForTiming is the SYN to SYN-ACK round trip below which timing says
// nothing about who sent a packet (loopback, the server's own host).
const minRTTForTiming = 1_000_000 // 1 ms, in nanoseconds

// middlebox returns middlebox_reset when the RST or FIN that ended a TCP
// handshake on the server's side came from someone else: its TTL (IPv6 hop
// limit) differs from the server's SYN-ACK, or it came sooner after the
// ClientHello than the SYN/SYN-ACK round trip allows. A firewall or SNI
// filter between the two (iptables `-m string` + `REJECT --reject-with
// tcp-reset`, a DPI box) answers in the server's name; the server never saw
// the hello.
func (d *diag) middlebox() (Finding, bool) {
	h := d.h
	if h.Transport != handshake.TransportTCP || h.ServerHelloSeen || h.EndedBy != handshake.SideServer ||
		(h.Outcome != handshake.OutcomeServerReset && h.Outcome != handshake.OutcomeServerClosed) {
		return Finding{}, false
	}
	what := "RST"
	if h.Outcome == handshake.OutcomeServerClosed {
		what = "FIN"
	}
	var ev []string
	if h.EndTTL != 0 && h.ServerTTL != 0 && h.EndTTL != h.ServerTTL {
		ev = append(ev, "the "+what+" arrived with TTL "+strconv.Itoa(int(h.EndTTL))+", the server's SYN-ACK with TTL "+strconv.Itoa(int(h.ServerTTL))+
			": another box, "+hops(h.ServerTTL, h.EndTTL)+", sent it")
	}
	answer := h.FirstAnswerTime // the server's first byte, FIN or RST after the hello
	if answer.IsZero() {
		answer = h.EndTime // a RST or FIN alone decides the flow when it comes
	}
	if !h.SYNTime.IsZero() && !h.SYNACKTime.IsZero() && !answer.IsZero() && !h.ClientHelloTime.IsZero() {
		rtt := h.SYNACKTime.Sub(h.SYNTime)
		after := answer.Sub(h.ClientHelloTime)
		if rtt >= minRTTForTiming && after >= 0 && after < rtt/2 {
			ev = append(ev, "the "+what+" came "+fmtDur(after)+" after the ClientHello, sooner than the server could answer (the SYN/SYN-ACK round trip was "+fmtDur(rtt)+")")
		}
	}
	if len(ev) == 0 {
		return Finding{}, false
	}
	ev = append(d.helloEvidence(), ev...)
	ev = noServerHello(ev)
	log := "peer closed connection in SSL handshake (104: Connection reset by peer) while SSL handshaking to upstream"
	if what == "FIN" {
		log = "peer closed connection in SSL handshake while SSL handshaking to upstream"
	}
	return Finding{
		ID:       MiddleboxReset,
		Severity: SeverityError,
		Summary:  "The " + what + " that ended the handshake was not sent by the server but by a box between the two (a firewall, SNI filter or DPI device), which cut the connection when it saw the ClientHello.",
		Evidence: ev,
		Hint:     "a firewall or SNI filter between client and server refuses this hello: capture on both sides to find it, and check its SNI / TLS policy",
		Hints: []Hint{
			{"nginx", "the upstream never saw the hello: check firewalls and egress SNI filters between nginx and the upstream"},
			{"haproxy", "check firewalls and SNI filters between HAProxy and the server"},
			{"envoy", "check firewalls and SNI filters between Envoy and the cluster"},
			{"curl", "retry from another network path or capture on the server side: the server never answered"},
			{"go", "the RST comes from the network path, not the server: check egress policy"},
		},
		NginxLog: log,
	}, true
}

// hops says how many hops nearer to the capture the sender was.
func hops(server, other uint8) string {
	if other > server && other-server < 64 {
		return strconv.Itoa(int(other-server)) + " hop(s) nearer"
	}
	return "on another path"
}
