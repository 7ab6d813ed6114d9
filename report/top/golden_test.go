package top

import (
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/hellowatch/hellowatch/capture"
	"github.com/hellowatch/hellowatch/diagnose"
	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/internal/testkit"
	"github.com/hellowatch/hellowatch/report"
)

// goldenSamples are real captures from samples/: upstreams that fail
// (no SNI over TCP and QUIC, an unknown name, a refused QUIC version, a
// lossy link) beside ones that work.
var goldenSamples = []string{
	"pcapng-mixed.pcapng", "ipv6.pcap", "quic-go-no-sni.pcap", "quic-go-unknown-name.pcap",
	"quic-go-version-negotiation.pcap", "quic-chromium-h3.pcap", "lossy.pcap",
}

// sampleSnapshot reads the samples as the command does (each through its
// own pipeline, their records into one Summary) and returns the final
// snapshot. The run's duration is fixed: the golden has no wall clock.
func sampleSnapshot(t *testing.T) Snapshot {
	t.Helper()
	sum := report.NewSummary()
	sum.KeepFailed(3)
	st := report.Stats{Duration: 2 * time.Second}
	for _, name := range goldenSamples {
		src, err := capture.OpenFiles([]string{filepath.Join("..", "..", "samples", name)})
		if err != nil {
			t.Fatal(err)
		}
		pl := capture.NewPipeline(capture.Config{Emit: func(h *handshake.Handshake) { sum.Add(h, diagnose.Diagnose(h)) }}, 0, true)
		for {
			p, err := src.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			pl.Packet(p)
		}
		pl.Flush()
		ts := pl.Stats()
		st.Packets += ts.Packets
		st.Bytes += ts.Bytes
		st.FlowsTracked += ts.FlowsTracked
		pl.Close()
		src.Close()
	}
	return Snapshot{Rows: sum.Rows(time.Time{}), Stats: st, Done: true}
}

// TestGolden: the screen for a known set of samples, at fixed sizes, as a
// person would see it: the list on a 100x30 terminal, the detail of the top
// row, and the two-line list on a 60-column one.
func TestGolden(t *testing.T) {
	snap := sampleSnapshot(t)
	for _, tc := range []struct {
		name          string
		width, height int
		keys          []string
	}{
		{"list-100x30.txt", 100, 30, nil},
		{"detail-100x30.txt", 100, 30, []string{"enter"}},
		{"list-60x30.txt", 60, 30, nil},
		{"failures-by-name-100x30.txt", 100, 30, []string{"f", "s", "s", "s", "s", "s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := New(Config{Fetch: func() Snapshot { return snap }, Source: "-r samples"})
			m.Update(tea.WindowSizeMsg{Width: tc.width, Height: tc.height})
			keys(m, tc.keys...)
			screen := m.Render()
			testkit.Golden(t, filepath.Join("testdata", tc.name), []byte(screen+"\n"))
			checkSize(t, m)
			// The upstream failing most is on top, selected, with its finding.
			if r, _ := m.Selected(); len(tc.keys) == 0 && (m.sel != 0 || r.String() != "127.0.0.1:8443 (no SNI)" ||
				!strings.Contains(screen, "missing_sni 2")) {
				t.Errorf("selected %d %s:\n%s", m.sel, r.String(), screen)
			}
		})
	}
}
