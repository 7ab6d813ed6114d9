package errlog

import (
	"fmt"
	"math/rand"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var (
	t0  = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	upA = netip.MustParseAddrPort("127.0.0.1:8443")
	upB = netip.MustParseAddrPort("[2001:db8::1]:443")
)

func entryAt(line int64, at time.Duration, up netip.AddrPort, kind Kind) Entry {
	return Entry{File: "error.log", Line: line, Time: t0.Add(at).Truncate(time.Second), UpstreamAddr: up, Kind: kind, Handshake: true, Raw: fmt.Sprint("line ", line)}
}

func hsAt(id uint64, up netip.AddrPort, start, end time.Duration, failed bool) Handshake {
	return Handshake{ID: id, Server: up, Start: t0.Add(start), End: t0.Add(end), Failed: failed}
}

// summary renders a join result for comparison.
func summary(m []Match, u []Entry, s []Handshake) string {
	var b strings.Builder
	for _, x := range m {
		fmt.Fprintf(&b, "line %d -> hs %d (gap %v)\n", x.Entry.Line, x.Handshake.ID, x.Gap)
	}
	for _, e := range u {
		fmt.Fprintf(&b, "unexplained line %d\n", e.Line)
	}
	for _, h := range s {
		fmt.Fprintf(&b, "silent hs %d\n", h.ID)
	}
	return b.String()
}

func TestJoin(t *testing.T) {
	ms := time.Millisecond
	entries := []Entry{
		entryAt(1, 100*ms, upA, KindAlert),                    // hs 1
		entryAt(2, 5*time.Second+900*ms, upA, KindAlert),      // hs 2 (same upstream, later)
		entryAt(3, 61*time.Second, upA, KindTimeout),          // hs 3: 60 s connect timeout, captured as no_response at 10 s
		entryAt(4, 3*time.Second, upB, KindVerifyError),       // hs 4: established on the wire
		entryAt(5, 30*time.Second, upA, KindAlert),            // nothing near: unexplained
		entryAt(6, 100*ms, netip.AddrPort{}, KindAlert),       // no address: unexplained
		entryAt(7, 14*time.Second+500*ms, upA, KindPeerReset), // 1.05 s after hs 5 ended: within the skew
	}
	hs := []Handshake{
		hsAt(1, upA, 50*ms, 52*ms, true),
		hsAt(2, upA, 5*time.Second+800*ms, 5*time.Second+801*ms, true),
		hsAt(3, upA, 1*time.Second+200*ms, 11*time.Second+200*ms, true),
		hsAt(4, upB, 3*time.Second+100*ms, 3*time.Second+120*ms, false),
		hsAt(5, upA, 12*time.Second+900*ms, 12*time.Second+950*ms, true),
		hsAt(6, upB, 40*time.Second, 40*time.Second, true), // no line: silent
		hsAt(7, upA, 0, 10*ms, false),                      // established, no line: not counted
	}
	for i := range hs {
		hs[i].Answered = hs[i].ID != 3 && hs[i].ID != 6 // 3 and 6 got no answer
	}
	want := `line 1 -> hs 1 (gap 0s)
line 4 -> hs 4 (gap 0s)
line 2 -> hs 2 (gap 0s)
line 7 -> hs 5 (gap 1.05s)
line 3 -> hs 3 (gap 0s)
unexplained line 6
unexplained line 5
silent hs 6
`
	m, u, s, st := Join(entries, hs, JoinConfig{})
	if got := summary(m, u, s); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if st.Matched != 5 || st.UnexplainedLines != 2 || st.SilentFailures != 1 || st.Lines != 7 || st.Handshakes != 7 {
		t.Errorf("stats %+v", st)
	}
	// Order-independent: any permutation of either input gives the same.
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 200; i++ {
		e2 := append([]Entry(nil), entries...)
		h2 := append([]Handshake(nil), hs...)
		r.Shuffle(len(e2), func(i, j int) { e2[i], e2[j] = e2[j], e2[i] })
		r.Shuffle(len(h2), func(i, j int) { h2[i], h2[j] = h2[j], h2[i] })
		m2, u2, s2, _ := Join(e2, h2, JoinConfig{})
		if got := summary(m2, u2, s2); got != want {
			t.Fatalf("permutation %d:\n%s", i, got)
		}
	}
	// Outside the skew: line 7 is 1.05 s after hs 5's end; a 1 s skew
	// leaves it unexplained and hs 5 silent.
	m, u, s, _ = Join(entries, hs, JoinConfig{Skew: time.Second})
	if got := summary(m, u, s); !strings.Contains(got, "unexplained line 7") || !strings.Contains(got, "silent hs 5") {
		t.Errorf("skew 1s:\n%s", got)
	}
}

// TestJoinPrefersFailed: two handshakes to one upstream in the same
// second, one refused, one established: the alert line goes to the refused
// one, whichever ended nearer.
func TestJoinPrefersFailed(t *testing.T) {
	ms := time.Millisecond
	e := []Entry{entryAt(1, 200*ms, upA, KindAlert)}
	for _, order := range [][]Handshake{
		{hsAt(1, upA, 100*ms, 101*ms, false), hsAt(2, upA, 600*ms, 601*ms, true)},
		{hsAt(2, upA, 600*ms, 601*ms, true), hsAt(1, upA, 100*ms, 101*ms, false)},
	} {
		m, _, _, _ := Join(e, order, JoinConfig{})
		if len(m) != 1 || m[0].Handshake.ID != 2 {
			t.Errorf("got %s", summary(m, nil, nil))
		}
	}
}

// TestJoinerLive feeds lines and handshakes in arrival order, either side
// first, advancing a clock, and checks the live result equals the batch one
// and that only the window is held.
func TestJoinerLive(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	var entries []Entry
	var hs []Handshake
	type arrival struct {
		at time.Time
		e  *Entry
		h  *Handshake
	}
	var arrivals []arrival
	for i := 0; i < 2000; i++ {
		start := time.Duration(i) * 300 * time.Millisecond
		up := upA
		if i%3 == 0 {
			up = upB
		}
		h := hsAt(uint64(i), up, start, start+time.Duration(r.Intn(50))*time.Millisecond, i%5 != 0)
		hs = append(hs, h)
		// i%7 == 3: a failure nginx did not log.
		if h.Failed && i%7 != 3 {
			e := entryAt(int64(i+1), start+time.Duration(r.Intn(40))*time.Millisecond, up, KindAlert)
			entries = append(entries, e)
			// The line arrives up to 1 s before or 3 s after the
			// handshake is reported.
			arrivals = append(arrivals, arrival{at: h.End.Add(time.Duration(r.Intn(4000)-1000) * time.Millisecond), e: &entries[len(entries)-1]})
		}
		arrivals = append(arrivals, arrival{at: h.End, h: &hs[len(hs)-1]})
	}
	// Stable by arrival time.
	for i := 1; i < len(arrivals); i++ {
		for k := i; k > 0 && arrivals[k].at.Before(arrivals[k-1].at); k-- {
			arrivals[k], arrivals[k-1] = arrivals[k-1], arrivals[k]
		}
	}
	bm, bu, bs, _ := Join(entries, hs, JoinConfig{Latency: 5 * time.Second})
	var lm []Match
	var lu []Entry
	var ls []Handshake
	j := NewJoiner(JoinConfig{Latency: 5 * time.Second})
	j.OnMatch = func(m Match) { lm = append(lm, m) }
	j.OnUnexplained = func(e Entry) { lu = append(lu, e) }
	j.OnSilent = func(h Handshake) { ls = append(ls, h) }
	maxHeld := 0
	for _, a := range arrivals {
		if a.e != nil {
			j.AddEntry(*a.e)
		} else {
			j.AddHandshake(*a.h)
		}
		j.Advance(a.at)
		maxHeld = max(maxHeld, len(j.lines)+len(j.hs))
	}
	j.Close()
	// Several failures to one upstream within a second are
	// interchangeable to a line with second precision: live and batch may
	// pair them differently, but must explain the same number, each pair
	// within the skew.
	if len(lm) != len(bm) || len(lu) != len(bu) || len(ls) != len(bs) {
		t.Errorf("live: %d matched, %d unexplained, %d silent; batch: %d, %d, %d", len(lm), len(lu), len(ls), len(bm), len(bu), len(bs))
	}
	for _, m := range append(lm, bm...) {
		if m.Entry.UpstreamAddr != m.Handshake.Server || m.Gap > 2*time.Second ||
			m.Entry.Time.Add(time.Second+2*time.Second).Before(m.Handshake.Start) || m.Entry.Time.After(m.Handshake.End.Add(2*time.Second)) {
			t.Fatalf("bad pair: line %d at %v, hs %d %v..%v", m.Entry.Line, m.Entry.Time, m.Handshake.ID, m.Handshake.Start, m.Handshake.End)
		}
	}
	if len(bm) != len(entries) || len(lm) != len(entries) {
		t.Errorf("matched %d (batch), %d (live) of %d lines", len(bm), len(lm), len(entries))
	}
	// 300 ms between handshakes; a handshake is held MaxTimeout + skew +
	// latency (82 s): about 270 of them, plus lines for 8 s.
	if maxHeld > 400 {
		t.Errorf("held up to %d items at once; the window should bound it", maxHeld)
	}
}

func TestJoinerMaxPending(t *testing.T) {
	j := NewJoiner(JoinConfig{MaxPending: 100})
	n := 0
	j.OnUnexplained = func(Entry) { n++ }
	for i := 0; i < 10000; i++ {
		j.AddEntry(entryAt(int64(i), time.Duration(i)*time.Millisecond, upA, KindAlert))
		j.AddHandshake(hsAt(uint64(i), upB, 0, 0, true))
		if len(j.lines) > 101 || len(j.hs) > 101 {
			t.Fatalf("held %d lines, %d handshakes past the cap", len(j.lines), len(j.hs))
		}
	}
	j.Close()
	if st := j.Stats(); st.UnexplainedLines != 10000 || st.SilentFailures != 10000 || st.Early == 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestJoinerTake(t *testing.T) {
	j := NewJoiner(JoinConfig{})
	ms := time.Millisecond
	j.AddEntry(entryAt(1, 100*ms, upA, KindAlert))
	j.AddEntry(entryAt(2, 61*time.Second, upA, KindTimeout))
	j.AddEntry(entryAt(3, 100*ms, upB, KindAlert))
	if m, ok := j.Take(hsAt(1, upA, 50*ms, 60*ms, true)); !ok || m.Entry.Line != 1 {
		t.Errorf("took %+v %v", m.Entry.Line, ok)
	}
	h := hsAt(2, upA, time.Second, 11*time.Second, true)
	if m, ok := j.Take(h); !ok || m.Entry.Line != 2 {
		t.Errorf("timeout line: took %+v %v", m.Entry.Line, ok)
	}
	if got := j.Latest(h); !got.Equal(t0.Add(76 * time.Second)) {
		t.Errorf("Latest %v", got)
	}
	if _, ok := j.Take(hsAt(3, upA, 0, 10*ms, true)); ok {
		t.Error("a line taken twice")
	}
	j.Close()
	if st := j.Stats(); st.Matched != 2 || st.UnexplainedLines != 1 {
		t.Errorf("stats %+v", st)
	}
}
