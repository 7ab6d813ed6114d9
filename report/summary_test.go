package report

import (
	"bytes"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/internal/testkit"
)

func TestSummaryGolden(t *testing.T) {
	s := NewSummary()
	for i := 0; i < 3; i++ {
		for _, smp := range samples() {
			s.Add(smp.h, findings(smp.h))
		}
	}
	h := samples()[0].h
	s.Add(h, findings(h))
	var buf bytes.Buffer
	st := Stats{Packets: 1200, Bytes: 345678, TLSFlows: 19, NonTLSFlows: 4,
		Skipped:        map[string]uint64{"not_tcp": 10, "bad_ip": 2},
		Evicted:        map[string]uint64{"table_full": 1, "idle": 0},
		KernelReceived: 1210, KernelDropped: 10, Duration: 12 * time.Second}
	if err := s.Write(&buf, st); err != nil {
		t.Fatal(err)
	}
	testkit.Golden(t, filepath.Join("testdata", "summary.golden.txt"), buf.Bytes())
	noRawControls(t, buf.Bytes(), false)
	for _, want := range []string{"25 handshakes", "missing_sni", "kernel: received 1210, dropped 10 (0.83%)", "skipped packets: not_tcp 10, bad_ip 2"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("summary lacks %q", want)
		}
	}
}

func TestSummaryBounded(t *testing.T) {
	s := NewSummary()
	s.maxRows = 100
	for i := 0; i < 1000; i++ {
		h := &handshake.Handshake{Server: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 443),
			HasSNI: true, ServerName: "host" + strconv.Itoa(i) + ".example", Outcome: handshake.OutcomeEstablished}
		s.Add(h, nil)
	}
	if len(s.rows) > 101 {
		t.Fatalf("rows = %d, want at most 101", len(s.rows))
	}
	other := s.rows[serverKey{other: true}]
	if other == nil || other.total != 900 {
		t.Fatalf("other row = %+v", other)
	}
	var buf bytes.Buffer
	if err := s.Write(&buf, Stats{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "(other servers)") || !strings.Contains(buf.String(), "more") {
		t.Errorf("summary lacks the other row or the truncation note:\n%s", buf.String())
	}
}

func TestSummaryEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := NewSummary().Write(&buf, Stats{}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "== hellowatch summary: 0 handshakes") {
		t.Errorf("got %q", buf.String())
	}
}

func TestSummaryTransports(t *testing.T) {
	s := NewSummary()
	h := samples()[0].h
	s.Add(h, nil)
	var buf bytes.Buffer
	if err := s.Write(&buf, Stats{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "transports:") {
		t.Errorf("TCP-only summary names transports:\n%s", buf.String())
	}
	q := *h
	q.Transport = handshake.TransportQUIC
	s.Add(&q, nil)
	s.Add(&q, nil)
	buf.Reset()
	if err := s.Write(&buf, Stats{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "transports: tcp 1, quic 2\n") {
		t.Errorf("summary lacks the transport counts:\n%s", buf.String())
	}
}

// TestSummaryAmbiguous: retransmissions with different bytes are counted
// in the summary when there were any.
func TestSummaryAmbiguous(t *testing.T) {
	for _, n := range []uint64{0, 4} {
		var buf bytes.Buffer
		if err := NewSummary().Write(&buf, Stats{Packets: 5, Ambiguous: n}); err != nil {
			t.Fatal(err)
		}
		if has := strings.Contains(buf.String(), "ambiguous retransmissions: 4 "); has != (n > 0) {
			t.Errorf("Ambiguous %d: summary\n%s", n, buf.String())
		}
	}
}

// TestSummaryQUICUndecryptable: the count of QUIC packets that did not
// decrypt is printed when non-zero, and only then.
func TestSummaryQUICUndecryptable(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		want string
	}{{0, ""}, {3, "  QUIC: 3 undecryptable Initial packets\n"}} {
		var buf bytes.Buffer
		if err := NewSummary().Write(&buf, Stats{Packets: 5, QUICUndecryptable: tc.n}); err != nil {
			t.Fatal(err)
		}
		got := buf.String()
		if tc.want == "" && strings.Contains(got, "undecryptable") || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("QUICUndecryptable %d: summary\n%s\nwant %q", tc.n, got, tc.want)
		}
	}
}
