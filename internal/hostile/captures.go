package hostile

import (
	"fmt"
	"io"
)

// Sizes of the big captures, for the tests that check counts against them.
const (
	SYNFloodPackets   = 1_000_000 // SYNs in "syn-flood"
	QUICFloodConns    = 100_000   // Initials in "quic-far-crypto" and "quic-initial-flood"
	PartialHelloConns = 200_000   // connections in "tcp-partial-hellos"
)

// Captures are the adversarial captures the command's tests read, by name:
// floods, reassembly abuse and lying lengths, from 16 packets to 214 MB.
// cmd/hellowatch's tests write them with the hostilegen command, built
// without the race detector (generating them under it costs minutes),
// straight to files.
func Captures() []Scenario {
	return []Scenario{
		{"syn-flood", SYNFlood(SYNFloodPackets)},
		// 1000 flows × 32 KB held behind a hole.
		{"holes", Holes(1000, 64, 1000)},
		{"quic-far-crypto", QUICCryptoFlood(QUICFloodConns, 60000)},
		{"quic-initial-flood", QUICCryptoFlood(QUICFloodConns, 0)},
		{"tcp-partial-hellos", PartialHellos(PartialHelloConns)},
		{"reverse-tiny-segments", ReverseTiny(4, 100_000)},
		{"hello-claims-16MB", HugeHello(4 << 20)},
		{"lying-lengths", LyingLengths()},
		{"10000-extensions", ManyExtensions(10000)},
		{"escape-sni", EscapeSNI()},
		{"zero-length-records", ZeroRecords(200_000)},
		{"retransmit-different-bytes", Retransmit()},
	}
}

// Capture returns the capture of Captures named name.
func Capture(name string) (Scenario, error) {
	for _, s := range Captures() {
		if s.Name == name {
			return s, nil
		}
	}
	return Scenario{}, fmt.Errorf("hostile: no capture %q", name)
}

// Scenario is one adversarial capture: Write produces it.
type Scenario struct {
	Name string
	// Write writes the capture to w.
	Write func(w io.Writer) error
}
