package capture_test

import (
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/hellowatch/hellowatch/capture"
	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/internal/testkit"
	"github.com/hellowatch/hellowatch/tlsparse"
)

// TestSSLv2ServerHello reads Zeek's SSL 2.0 trace (an SSLv2 CLIENT-HELLO
// answered by an SSLv2 SERVER-HELLO, then CLIENT-MASTER-KEY and encrypted
// records), whole and cut after a given packet, as when the capture ends
// there.
func TestSSLv2ServerHello(t *testing.T) {
	path := filepath.Join(testkit.Corpus(t), "zeek", "testing", "btest", "Traces", "tls", "ssl-v2.pcap")
	for _, tc := range []struct {
		name     string
		packets  int // packets fed; 0 for all
		outcome  handshake.Outcome
		shSeen   bool
		dataSent bool
		history  string
	}{
		// Packet 4 is the CLIENT-HELLO, 6 the SERVER-HELLO, 8 the
		// CLIENT-MASTER-KEY, 10 CLIENT-FINISHED, 13 the first data.
		{"whole", 0, handshake.OutcomeEstablished, true, true, "CsDdDdD"},
		{"hello only", 5, handshake.OutcomeIncomplete, false, false, "C"},
		{"server hello, client silent", 7, handshake.OutcomeIncomplete, true, false, "Cs"},
		{"client master key", 8, handshake.OutcomeEstablished, true, false, "CsD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := capture.OpenFiles([]string{path})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			var got []*handshake.Handshake
			tr := capture.NewTracker(capture.Config{Emit: func(h *handshake.Handshake) { got = append(got, h) }})
			for n := 1; tc.packets == 0 || n <= tc.packets; n++ {
				p, err := src.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				tr.Packet(p)
			}
			tr.Flush()
			if len(got) != 1 {
				t.Fatalf("%d records", len(got))
			}
			h := got[0]
			if !h.SSLv2Hello || h.Outcome != tc.outcome || h.ServerHelloSeen != tc.shSeen ||
				h.ClientDataSent != tc.dataSent || h.History != tc.history || h.NotTLSPrefix != nil {
				t.Fatalf("outcome %s, server hello %v, data sent %v, history %q, not TLS %q",
					h.Outcome, h.ServerHelloSeen, h.ClientDataSent, h.History, h.NotTLSPrefix)
			}
			if tc.shSeen && h.Version != tlsparse.VersionSSL20 {
				t.Fatalf("version %v", h.Version)
			}
			if !tc.shSeen && h.Version != 0 {
				t.Fatalf("version %q before any server hello", h.Version)
			}
		})
	}
}
