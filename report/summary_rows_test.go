package report

import (
	"bytes"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hellowatch/hellowatch/diagnose"
	"github.com/hellowatch/hellowatch/handshake"
)

func rowByName(t *testing.T, rows []ServerRow, name string) ServerRow {
	t.Helper()
	for _, r := range rows {
		if r.String() == name {
			return r
		}
	}
	var names []string
	for _, r := range rows {
		names = append(names, r.String())
	}
	t.Fatalf("no row %s among %q", name, names)
	return ServerRow{}
}

// TestSummaryRows: each (server, SNI) row counts its own handshakes,
// failures, outcomes and findings, and the rows add up to the summary's
// totals printed by Write.
func TestSummaryRows(t *testing.T) {
	s := NewSummary()
	type tally struct {
		total, failed uint64
		findings      map[string]uint64
	}
	want := map[string]*tally{}
	for range 3 {
		for _, smp := range samples() {
			fs := findings(smp.h)
			s.Add(smp.h, fs)
			name := serverKey{server: smp.h.Server, sni: smp.h.ServerName, hasSNI: smp.h.HasSNI}.String()
			w := want[name]
			if w == nil {
				w = &tally{findings: map[string]uint64{}}
				want[name] = w
			}
			w.total++
			if smp.h.Outcome != handshake.OutcomeEstablished && smp.h.Outcome != handshake.OutcomeIncomplete {
				w.failed++
			}
			for _, f := range fs {
				w.findings[f.ID]++
			}
		}
	}
	rows := s.Rows(time.Time{})
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	var total uint64
	for name, w := range want {
		r := rowByName(t, rows, name)
		total += r.Total
		if r.Total != w.total || r.Failed != w.failed {
			t.Errorf("%s: total %d failed %d, want %d, %d", name, r.Total, r.Failed, w.total, w.failed)
		}
		var fn uint64
		for i, c := range r.Findings {
			if c.N != w.findings[c.Name] {
				t.Errorf("%s: finding %s %d, want %d", name, c.Name, c.N, w.findings[c.Name])
			}
			if i > 0 && c.N > r.Findings[i-1].N {
				t.Errorf("%s: findings not most frequent first: %v", name, r.Findings)
			}
			fn++
		}
		if fn != uint64(len(w.findings)) {
			t.Errorf("%s: findings %v, want %v", name, r.Findings, w.findings)
		}
		var on uint64
		for _, c := range r.Outcomes {
			on += c.N
		}
		if on != r.Total {
			t.Errorf("%s: outcomes %v do not add up to %d", name, r.Outcomes, r.Total)
		}
		if (r.Failed > 0) != (r.LastEnd != "") {
			t.Errorf("%s: %d failed but LastEnd %q", name, r.Failed, r.LastEnd)
		}
		if r.Recent != nil {
			t.Errorf("%s: records kept without KeepFailed", name)
		}
	}
	var buf bytes.Buffer
	if err := s.Write(&buf, Stats{}); err != nil {
		t.Fatal(err)
	}
	if head := "== hellowatch summary: " + strconv.FormatUint(total, 10) + " handshakes"; !strings.HasPrefix(buf.String(), head) {
		t.Errorf("rows add up to %d handshakes, the summary says\n%s", total, buf.String())
	}
	// The row of the incident: the alert is its last end, the answer time
	// of its only answer exact.
	r := rowByName(t, rows, "104.16.1.1:443 (no SNI)")
	if r.LastEnd == "" || r.Findings[0].Name != diagnose.MissingSNI {
		t.Errorf("no-SNI row: %+v", r)
	}
	ok := rowByName(t, rows, `[2001:db8::2]:443 "example.com"`)
	if ok.Failed != 0 || ok.LastEnd != "" || ok.Answered != 3 || ok.AnswerP50 != 1500*time.Microsecond || ok.AnswerP95 != 1500*time.Microsecond {
		t.Errorf("established row: %+v", ok)
	}
}

// TestFailed: what --failures, -w and the rows count as failed.
func TestFailed(t *testing.T) {
	by := map[string]*handshake.Handshake{}
	for _, smp := range samples() {
		by[smp.name] = smp.h
	}
	closed := *by["established_ipv6"]
	closed.ClientDataSent, closed.ClientAppData = false, 0
	closed.ClientFIN, closed.EndedBy = true, handshake.SideClient
	for _, tc := range []struct {
		name string
		h    *handshake.Handshake
		want bool
	}{
		{"established", by["established_ipv6"], false},
		{"closed_after_handshake", &closed, true},
		{"server_alert", by[diagnose.MissingSNI], true},
		{"no_response", by["silence"], true},
		{"incomplete", by["lost_hello"], true},
	} {
		fs := findings(tc.h)
		if got := Failed(tc.h, fs); got != tc.want {
			t.Errorf("%s (findings %v): Failed = %v, want %v", tc.name, fs, got, tc.want)
		}
	}
}

// TestSummaryKeepFailed: with KeepFailed(n) a row keeps its n latest failed
// handshakes, newest first, and no established one.
func TestSummaryKeepFailed(t *testing.T) {
	s := NewSummary()
	s.KeepFailed(2)
	base := samples()[0].h
	var recs []*handshake.Handshake
	for i := range 5 {
		h := *base
		h.FirstPacket = uint64(i)
		if i == 3 {
			h.Outcome = handshake.OutcomeEstablished
			h.Alerts = nil
		}
		recs = append(recs, &h)
		s.Add(&h, findings(&h))
	}
	rows := s.Rows(time.Time{})
	if len(rows) != 1 {
		t.Fatalf("%d rows", len(rows))
	}
	got := rows[0].Recent
	if len(got) != 2 || got[0].Handshake != recs[4] || got[1].Handshake != recs[2] {
		var idx []uint64
		for _, r := range got {
			idx = append(idx, r.Handshake.FirstPacket)
		}
		t.Fatalf("kept %v, want the failed records 4 and 2", idx)
	}
	if len(got[0].Findings) == 0 || got[0].Findings[0].ID != diagnose.MissingSNI {
		t.Errorf("kept findings %v", got[0].Findings)
	}
	if rows[0].Failed != 4 {
		t.Errorf("Failed = %d, want 4", rows[0].Failed)
	}
}

// TestSummaryRate: Rate is handshakes per second over the last RateWindow
// of capture time before the clock.
func TestSummaryRate(t *testing.T) {
	s := NewSummary()
	base := samples()[1].h         // established
	tb := t0.Truncate(time.Second) // seconds of capture time start on a record
	add := func(at time.Time) {
		h := *base
		h.ClientHelloTime, h.EndTime = at, at
		s.Add(&h, nil)
	}
	// 10 a second for 30 s.
	for i := range 300 {
		add(tb.Add(time.Duration(i) * 100 * time.Millisecond))
	}
	last := tb.Add(299 * 100 * time.Millisecond)
	for _, tc := range []struct {
		now  time.Time
		want float64
	}{
		{time.Time{}, 300 / last.Sub(tb).Seconds()}, // over the whole capture
		{last, 10},
		{last.Add(5 * time.Second), 5},
		{last.Add(20 * time.Second), 0},
		{last.Add(-time.Second), 9}, // a clock a second behind the records
	} {
		if got := s.Rows(tc.now)[0].Rate; got != tc.want {
			t.Errorf("Rate at %v = %v, want %v", tc.now, got, tc.want)
		}
	}
	// A record older than the window counts in the total, not the rate.
	add(tb)
	r := s.Rows(last)[0]
	if r.Total != 301 || r.Rate != 10 {
		t.Errorf("after a late record: total %d rate %v", r.Total, r.Rate)
	}
	// A capture younger than a second: its handshakes over one second.
	s = NewSummary()
	for i := range 5 {
		add(tb.Add(time.Duration(i) * 100 * time.Millisecond))
	}
	for _, now := range []time.Time{{}, tb.Add(400 * time.Millisecond)} {
		if got := s.Rows(now)[0].Rate; got != 5 {
			t.Errorf("young capture, clock %v: Rate %v, want 5", now, got)
		}
	}
}

// TestAnswerQuantiles: the histogram's quantiles are within 10% of the
// exact nearest-rank ones, exact for a single value, and ordered.
func TestAnswerQuantiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 7, 100, 5000} {
		var h answerHist
		var vals []time.Duration
		for range n {
			// Log-normal around 2 ms, some under a microsecond, some minutes.
			d := time.Duration(float64(2*time.Millisecond) * math.Exp(rng.NormFloat64()*3))
			vals = append(vals, d)
			h.add(d)
		}
		slices.Sort(vals)
		for _, q := range []float64{0, 0.5, 0.95, 1} {
			rank := max(int(math.Ceil(q*float64(n))), 1)
			exact := vals[rank-1]
			got := h.quantile(q)
			if exact >= time.Microsecond && exact < 100*time.Second && math.Abs(float64(got-exact)) > 0.1*float64(exact) {
				t.Errorf("n=%d q=%v: %v, exact %v", n, q, got, exact)
			}
			if got < vals[0] || got > vals[n-1] {
				t.Errorf("n=%d q=%v: %v outside [%v, %v]", n, q, got, vals[0], vals[n-1])
			}
		}
		if n == 1 && h.quantile(0.5) != vals[0] {
			t.Errorf("one answer %v: median %v", vals[0], h.quantile(0.5))
		}
		if h.quantile(0.5) > h.quantile(0.95) {
			t.Errorf("n=%d: p50 %v > p95 %v", n, h.quantile(0.5), h.quantile(0.95))
		}
	}
	var empty answerHist
	if empty.quantile(0.5) != 0 {
		t.Error("empty histogram has a median")
	}
}

// TestEndText: the few words name the alert, the QUIC close or the
// outcome, and are what the text line says after the outcome word.
func TestEndText(t *testing.T) {
	want := map[string]string{
		diagnose.MissingSNI: "server fatal handshake_failure(40)",
		"silence":           "no_response",
		"quic_refused":      "server fatal internal_error(80)",
		"plaintext":         "not_tls",
	}
	for _, smp := range samples() {
		got := EndText(smp.h)
		if w, ok := want[smp.name]; ok && got != w {
			t.Errorf("%s: %q, want %q", smp.name, got, w)
		}
		var buf bytes.Buffer
		if err := NewTextWriter(&buf, false).Write(smp.h, nil); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), got) {
			t.Errorf("%s: %q not in the text line %q", smp.name, got, buf.String())
		}
	}
	q := *samples()[7].h
	q.Alerts = nil
	if got := EndText(&q); got != "server CONNECTION_CLOSE 0x0150" {
		t.Errorf("QUIC close without an alert: %q", got)
	}
}

// TestSummaryRowsOther: the row past MaxSummaryServers is named as the
// table names it.
func TestSummaryRowsOther(t *testing.T) {
	s := NewSummary()
	s.maxRows = 1
	for i := range 3 {
		h := &handshake.Handshake{Server: netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), 443), Outcome: handshake.OutcomeNoResponse}
		s.Add(h, nil)
	}
	r := rowByName(t, s.Rows(time.Time{}), "(other servers)")
	if r.Total != 2 || r.ServerText() != "(other servers)" || r.SNIText() != "-" {
		t.Errorf("other row %+v", r)
	}
}
