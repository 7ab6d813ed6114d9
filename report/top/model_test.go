package top

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/hellowatch/hellowatch/diagnose"
	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/report"
	"github.com/hellowatch/hellowatch/tlsparse"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// record builds a handshake to server with sni ("" for none) that ends as
// outcome, at second sec of capture time.
func record(server, sni string, outcome handshake.Outcome, sec int) *handshake.Handshake {
	at := t0.Add(time.Duration(sec) * time.Second)
	h := &handshake.Handshake{
		Client: netip.MustParseAddrPort("198.51.100.1:40000"), Server: netip.MustParseAddrPort(server),
		Transport: handshake.TransportTCP, ClientHelloTime: at, ClientVersions: []tlsparse.Version{tlsparse.VersionTLS13, tlsparse.VersionTLS12},
		FirstAnswerTime: at.Add(2 * time.Millisecond), EndTime: at.Add(2 * time.Millisecond),
		Outcome: outcome, Packets: 4, FirstPacket: uint64(sec + 1), History: "C",
	}
	if sni != "" {
		h.HasSNI, h.ServerName = true, sni
	}
	switch outcome {
	case handshake.OutcomeServerAlert:
		h.Alerts = []handshake.AlertRecord{{Sender: handshake.SideServer, Level: tlsparse.AlertLevelFatal, Description: 40, Packet: 3, Time: h.FirstAnswerTime}}
		h.History = "Ca"
	case handshake.OutcomeEstablished:
		h.ServerHelloSeen, h.Version, h.Cipher = true, tlsparse.VersionTLS13, 0x1301
		h.ClientDataSent, h.ClientAppData, h.ServerAppData = true, 2, 2
		h.History = "CsiI"
	case handshake.OutcomeNoResponse:
		h.FirstAnswerTime = time.Time{}
		h.EndTime = at.Add(10 * time.Second)
	}
	return h
}

// fixture: three upstreams through a real report.Summary. The one without
// SNI fails every time (5), 192.0.2.2 "api.example.com" works (12 times),
// 192.0.2.3 "slow.example.net" fails once in 3 (no answer).
type fixture struct {
	sum     *report.Summary
	fetches int
	stats   report.Stats
	at      time.Time
	done    bool
}

func newFixture() *fixture {
	f := &fixture{sum: report.NewSummary(), stats: report.Stats{Packets: 1000, Duration: 10 * time.Second}}
	f.sum.KeepFailed(3)
	add := func(h *handshake.Handshake) { f.sum.Add(h, diagnose.Diagnose(h)) }
	for i := range 5 {
		add(record("192.0.2.1:443", "", handshake.OutcomeServerAlert, i))
	}
	for i := range 12 {
		add(record("192.0.2.2:443", "api.example.com", handshake.OutcomeEstablished, i%8))
	}
	add(record("192.0.2.3:8443", "slow.example.net", handshake.OutcomeEstablished, 1))
	add(record("192.0.2.3:8443", "slow.example.net", handshake.OutcomeNoResponse, 2))
	add(record("192.0.2.3:8443", "slow.example.net", handshake.OutcomeEstablished, 3))
	return f
}

func (f *fixture) fetch() Snapshot {
	f.fetches++
	return Snapshot{Rows: f.sum.Rows(time.Time{}), Stats: f.stats, At: f.at, Done: f.done}
}

func (f *fixture) model(w, h int) *Model {
	m := New(Config{Fetch: f.fetch, Source: "-r test.pcap"})
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return m
}

// keys sends a key sequence: single characters, or names ("down",
// "enter", "esc", "backspace", "ctrl+c").
func keys(m *Model, ks ...string) tea.Cmd {
	var cmd tea.Cmd
	for _, k := range ks {
		cmd = sendKey(m, k)
	}
	return cmd
}

func sendKey(m *Model, k string) tea.Cmd {
	var msg tea.KeyPressMsg
	switch k {
	case "up":
		msg.Code = tea.KeyUp
	case "down":
		msg.Code = tea.KeyDown
	case "enter":
		msg.Code = tea.KeyEnter
	case "esc":
		msg.Code = tea.KeyEscape
	case "backspace":
		msg.Code = tea.KeyBackspace
	case "pgdown":
		msg.Code = tea.KeyPgDown
	case "ctrl+c":
		msg.Code, msg.Mod = 'c', tea.ModCtrl
	default:
		r := []rune(k)
		if len(r) != 1 {
			panic("unknown key " + k)
		}
		msg.Code, msg.Text = r[0], k
	}
	_, cmd := m.Update(msg)
	return cmd
}

func names(m *Model) []string {
	var out []string
	for _, r := range m.rows {
		out = append(out, r.String())
	}
	return out
}

func selected(t *testing.T, m *Model) string {
	t.Helper()
	r, ok := m.Selected()
	if !ok {
		t.Fatal("no row selected")
	}
	return r.String()
}

const (
	rowNoSNI = "192.0.2.1:443 (no SNI)"
	rowAPI   = `192.0.2.2:443 "api.example.com"`
	rowSlow  = `192.0.2.3:8443 "slow.example.net"`
)

func TestSortedByFailures(t *testing.T) {
	m := newFixture().model(100, 30)
	want := []string{rowNoSNI, rowSlow, rowAPI}
	if got := names(m); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("rows %q, want %q", got, want)
	}
	if got := selected(t, m); got != rowNoSNI {
		t.Errorf("selected %s, want the failing upstream", got)
	}
}

func TestMove(t *testing.T) {
	m := newFixture().model(100, 30)
	for _, tc := range []struct {
		keys []string
		want string
	}{
		{[]string{"j"}, rowSlow},
		{[]string{"down"}, rowAPI},
		{[]string{"j", "j"}, rowAPI}, // stays on the last row
		{[]string{"k"}, rowSlow},
		{[]string{"up", "up", "up"}, rowNoSNI}, // stays on the first
		{[]string{"G"}, rowAPI},
		{[]string{"g"}, rowNoSNI},
		{[]string{"pgdown"}, rowAPI},
	} {
		keys(m, tc.keys...)
		if got := selected(t, m); got != tc.want {
			t.Errorf("after %q: selected %s, want %s", tc.keys, got, tc.want)
		}
	}
}

func TestSortKey(t *testing.T) {
	m := newFixture().model(100, 30)
	keys(m, "j") // the slow upstream
	wantOrder := map[Sort][]string{
		SortFailPct:  {rowNoSNI, rowSlow, rowAPI},
		SortRate:     {rowAPI, rowNoSNI, rowSlow},
		SortTotal:    {rowAPI, rowNoSNI, rowSlow},
		SortP95:      {rowNoSNI, rowSlow, rowAPI}, // equal answer times: by failures
		SortName:     {rowNoSNI, rowAPI, rowSlow},
		SortFailures: {rowNoSNI, rowSlow, rowAPI},
	}
	for range numSorts {
		keys(m, "s")
		if got, want := names(m), wantOrder[m.sort]; strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("sort %s: rows %q, want %q", m.sort, got, want)
		}
		if got := selected(t, m); got != rowSlow {
			t.Errorf("sort %s: the selection moved to %s", m.sort, got)
		}
		if !strings.Contains(m.Render(), "sort: "+m.sort.String()) {
			t.Errorf("sort %s not in the header", m.sort)
		}
	}
	if m.sort != SortFailures {
		t.Errorf("%d presses of s end on %s", numSorts, m.sort)
	}
}

func TestFailuresOnly(t *testing.T) {
	m := newFixture().model(100, 30)
	keys(m, "G") // the working upstream
	keys(m, "f")
	if got := names(m); strings.Join(got, "|") != rowNoSNI+"|"+rowSlow {
		t.Errorf("failures only: %q", got)
	}
	if got := selected(t, m); got != rowSlow {
		t.Errorf("selected %s after its row was hidden, want the nearest one", got)
	}
	if !strings.Contains(m.Render(), "failures only") {
		t.Error("the header does not say failures only")
	}
	keys(m, "f")
	if len(m.rows) != 3 {
		t.Errorf("f again: %d rows", len(m.rows))
	}
}

func TestFilter(t *testing.T) {
	m := newFixture().model(100, 30)
	keys(m, "/", "a", "p", "i")
	if !m.editing || m.filter != "api" {
		t.Fatalf("editing %v filter %q", m.editing, m.filter)
	}
	if got := names(m); len(got) != 1 || got[0] != rowAPI {
		t.Errorf("filter api (SNI): %q", got)
	}
	// q, s, f and p are text while typing.
	keys(m, "backspace", "backspace", "backspace", "1", "9", "2", ".", "0", ".", "2", ".", "3")
	if got := names(m); len(got) != 1 || got[0] != rowSlow {
		t.Errorf("filter %q (address): %q", m.filter, got)
	}
	keys(m, "enter")
	if m.editing || m.filter != "192.0.2.3" {
		t.Errorf("enter: editing %v filter %q", m.editing, m.filter)
	}
	if !strings.Contains(m.Render(), `filter "192.0.2.3"`) {
		t.Errorf("the header does not show the filter:\n%s", m.Render())
	}
	// esc while editing puts the filter back as it was.
	keys(m, "/", "x", "esc")
	if m.editing || m.filter != "192.0.2.3" || len(m.rows) != 1 {
		t.Errorf("esc while editing: filter %q, %d rows", m.filter, len(m.rows))
	}
	keys(m, "/", "n", "o", "p", "e", "enter")
	if len(m.rows) != 0 || !strings.Contains(m.Render(), "no row matches the filter") {
		t.Errorf("a filter matching nothing: rows %q\n%s", names(m), m.Render())
	}
	// esc in the list clears it.
	keys(m, "esc")
	if m.filter != "" || len(m.rows) != 3 {
		t.Errorf("esc: filter %q, %d rows", m.filter, len(m.rows))
	}
	// Case does not matter; a filter is bounded.
	keys(m, "/", "S", "L", "O", "W", "enter")
	if got := names(m); len(got) != 1 || got[0] != rowSlow {
		t.Errorf("filter SLOW: %q", got)
	}
	keys(m, "/")
	for range maxFilter + 10 {
		keys(m, "z")
	}
	if len(m.filter) > maxFilter {
		t.Errorf("filter grew to %d bytes", len(m.filter))
	}
}

func TestPause(t *testing.T) {
	f := newFixture()
	m := f.model(100, 30)
	n := f.fetches
	m.Update(tickMsg{})
	if f.fetches != n+1 {
		t.Fatalf("a tick did not refresh")
	}
	keys(m, "p")
	f.sum.Add(record("192.0.2.9:443", "new.example", handshake.OutcomeServerAlert, 9), nil)
	m.Update(tickMsg{})
	m.Update(doneMsg{})
	if f.fetches != n+1 || len(m.rows) != 3 {
		t.Errorf("paused: %d fetches, %d rows", f.fetches-n, len(m.rows))
	}
	if !strings.Contains(m.Render(), "PAUSED") {
		t.Error("the header does not say PAUSED")
	}
	keys(m, "p")
	if len(m.rows) != 4 {
		t.Errorf("unpaused: %d rows, want the new one too", len(m.rows))
	}
	// Once the capture is done, ticks stop fetching: the view holds the
	// final state.
	f.done = true
	m.Update(doneMsg{})
	n = f.fetches
	m.Update(tickMsg{})
	if f.fetches != n {
		t.Error("a tick refreshed after the end of the capture")
	}
}

// TestSelectionFollowsRow: when new records reorder the rows, the selected
// row stays selected.
func TestSelectionFollowsRow(t *testing.T) {
	f := newFixture()
	m := f.model(100, 30)
	keys(m, "j")
	for i := range 10 {
		h := record("192.0.2.3:8443", "slow.example.net", handshake.OutcomeNoResponse, 4+i)
		f.sum.Add(h, diagnose.Diagnose(h))
	}
	m.Update(tickMsg{})
	if names(m)[0] != rowSlow || selected(t, m) != rowSlow || m.sel != 0 {
		t.Errorf("rows %q, selected %d %s", names(m), m.sel, selected(t, m))
	}
}

// TestDetail: Enter shows the selected row's latest failed handshakes,
// newest first, exactly as the text output writes them, fix included.
func TestDetail(t *testing.T) {
	f := newFixture()
	m := f.model(200, 60)
	keys(m, "enter")
	if !m.detail {
		t.Fatal("enter did not open the detail")
	}
	screen := m.Render()
	r, _ := m.Selected()
	if len(r.Recent) != 3 || r.Recent[0].Handshake.FirstPacket != 5 {
		t.Fatalf("kept %d records", len(r.Recent))
	}
	for _, rec := range r.Recent {
		var buf bytes.Buffer
		if err := report.NewTextWriter(&buf, false).Write(rec.Handshake, rec.Findings); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(screen, buf.String()) {
			t.Errorf("the detail lacks the text output\n%s\nscreen:\n%s", buf.String(), screen)
		}
	}
	newest := strings.Index(screen, "198.51.100.1:40000 → 192.0.2.1:443 (no SNI)")
	if !strings.Contains(screen, "fix: nginx: add `proxy_ssl_server_name on;`") || newest < 0 ||
		!strings.Contains(screen, "5 of 5 handshakes failed; the latest 3, newest first") {
		t.Errorf("detail:\n%s", screen)
	}
	if !strings.HasPrefix(screen[newest-16:], "12:00:04.000000 ") {
		t.Errorf("the newest record is not first:\n%s", screen)
	}
	keys(m, "esc")
	if m.detail {
		t.Error("esc did not close the detail")
	}
	// A working row says it has no failure to show.
	keys(m, "G", "enter")
	if s := m.Render(); !strings.Contains(s, "0 of 12 handshakes failed.") {
		t.Errorf("detail of a working row:\n%s", s)
	}
	keys(m, "enter")
	if m.detail {
		t.Error("enter did not close the detail")
	}
}

// TestDetailScroll: a detail longer than the screen scrolls, and says
// which lines it shows; at 100 columns the fix is wrapped, not cut.
func TestDetailScroll(t *testing.T) {
	m := newFixture().model(100, 12)
	keys(m, "enter")
	first := m.Render()
	if !strings.Contains(first, "lines 1-11 of ") {
		t.Fatalf("no position in the footer:\n%s", first)
	}
	keys(m, "j", "j")
	if s := m.Render(); !strings.Contains(s, "lines 3-13 of ") || s == first {
		t.Errorf("j j:\n%s", s)
	}
	keys(m, "G")
	s := m.Render()
	if !strings.Contains(s, "proxy_ssl_name") {
		t.Errorf("the end of the detail lacks the wrapped fix:\n%s", s)
	}
	keys(m, "k", "g")
	if s := m.Render(); s != first {
		t.Errorf("g does not go back to the top:\n%s", s)
	}
	checkSize(t, m)
}

func TestQuit(t *testing.T) {
	for _, seq := range [][]string{{"q"}, {"ctrl+c"}, {"enter", "q"}, {"/", "ctrl+c"}} {
		m := newFixture().model(100, 30)
		cmd := keys(m, seq...)
		if cmd == nil {
			t.Errorf("%q: no command", seq)
			continue
		}
		if _, ok := cmd().(tea.QuitMsg); !ok {
			t.Errorf("%q: the command is not tea.Quit", seq)
		}
	}
	// q while typing a filter is a letter.
	m := newFixture().model(100, 30)
	if cmd := keys(m, "/", "q"); cmd != nil || m.filter != "q" {
		t.Errorf("q in the filter: filter %q", m.filter)
	}
}

func checkSize(t *testing.T, m *Model) {
	t.Helper()
	lines := strings.Split(m.Render(), "\n")
	if len(lines) > m.height {
		t.Errorf("%d lines on a %d-line screen", len(lines), m.height)
	}
	for _, l := range lines {
		if w := ansi.StringWidth(l); w > m.width {
			t.Errorf("line of %d columns on a %d-column screen: %q", w, m.width, l)
		}
	}
}

// TestNarrow: below 80 columns each row takes two lines and every column
// still shows, in the screen's width.
func TestNarrow(t *testing.T) {
	for _, w := range []int{79, 60, 40} {
		m := newFixture().model(w, 20)
		checkSize(t, m)
		s := m.Render()
		for _, want := range []string{"> 192.0.2.1:443 (no SNI)", "missing_sni 5", "5 failed 100%", `192.0.2.3:8443 "slow.example.net"`} {
			if w >= 60 && !strings.Contains(s, want) {
				t.Errorf("width %d lacks %q:\n%s", w, want, s)
			}
		}
		keys(m, "j", "j", "j")
		checkSize(t, m)
		keys(m, "enter")
		checkSize(t, m)
	}
	// A screen with room for one row scrolls to the selected one.
	m := newFixture().model(60, 6)
	keys(m, "j")
	if s := m.Render(); !strings.Contains(s, "> "+rowSlow) || strings.Contains(s, rowNoSNI) {
		t.Errorf("one row on screen:\n%s", s)
	}
	checkSize(t, m)
}

func TestWideSizes(t *testing.T) {
	for _, w := range []int{80, 100, 132, 250} {
		m := newFixture().model(w, 30)
		checkSize(t, m)
		s := m.Render()
		if !strings.Contains(s, "TOP FINDING") || !strings.Contains(s, "missing_sni 5") {
			t.Errorf("width %d:\n%s", w, s)
		}
	}
}

// TestColor: colour only when asked for; the plain screen has no escape.
func TestColor(t *testing.T) {
	f := newFixture()
	for _, color := range []bool{false, true} {
		m := New(Config{Fetch: f.fetch, Color: color})
		m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
		for _, s := range []string{m.Render(), func() string { keys(m, "enter"); return m.Render() }()} {
			if got := strings.Contains(s, "\x1b["); got != color {
				t.Errorf("color %v: escapes %v in\n%q", color, got, s)
			}
		}
	}
}

// TestHostileSNI: names off the wire are escaped in the rows, the detail
// and the header's filter.
func TestHostileSNI(t *testing.T) {
	f := newFixture()
	h := record("192.0.2.66:443", "evil\x1b[2J\x1b]0;pwned\x07\xff\u202e.example", handshake.OutcomeServerAlert, 1)
	for range 9 {
		f.sum.Add(h, diagnose.Diagnose(h))
	}
	m := f.model(200, 30)
	keys(m, "/", "\x1b", "enter")
	for _, s := range []string{m.Render(), func() string { keys(m, "esc", "enter"); return m.Render() }()} {
		for i, r := range s {
			if r == 0x1b || r == 0x07 || r == 0x202e || r == 0xfffd {
				t.Fatalf("raw %U at %d:\n%q", r, i, s)
			}
		}
		if !strings.Contains(s, `evil\x1b[2J\x1b]0;pwned\x07\xff\u202e.example`) {
			t.Errorf("the escaped name is not shown:\n%s", s)
		}
	}
}

// TestPacketsPerSecond: between two snapshots while capturing; over the
// run once it is over, as the end summary says.
func TestPacketsPerSecond(t *testing.T) {
	f := newFixture()
	f.at = t0
	m := f.model(100, 30)
	if got := m.packetsPerSecond(); got != 100 {
		t.Errorf("first snapshot: %v packets/s, want 1000 over 10 s", got)
	}
	f.at, f.stats.Packets, f.stats.Duration = t0.Add(2*time.Second), 1600, 12*time.Second
	m.Update(tickMsg{})
	if got := m.packetsPerSecond(); got != 300 {
		t.Errorf("600 packets in 2 s: %v packets/s", got)
	}
	if !strings.Contains(m.Render(), "packets/s 300 ·") {
		t.Errorf("header:\n%s", m.Render())
	}
	f.done, f.stats.Duration = true, 16*time.Second
	m.Update(doneMsg{})
	if got := m.packetsPerSecond(); got != 100 {
		t.Errorf("done: %v packets/s, want 1600 over 16 s", got)
	}
}

// TestHeader: the capture's counters, and the caps in red when hit.
func TestHeader(t *testing.T) {
	f := newFixture()
	f.stats.FlowsTracked, f.stats.KernelDropped = 42, 7
	f.stats.Evicted = map[string]uint64{"buffer_limit": 3, "idle": 100}
	m := New(Config{Fetch: f.fetch, Live: true, Source: "-i eth0"})
	m.Update(tea.WindowSizeMsg{Width: 160, Height: 30})
	s := m.Render()
	for _, want := range []string{"kernel drops 7", "flows tracked 42", "memory caps hit 3 (flows 0, buffer 3)", "-i eth0: live", "20 handshakes, 6 failed"} {
		if !strings.Contains(s, want) {
			t.Errorf("header lacks %q:\n%s", want, s)
		}
	}
	// From a file there is no kernel to drop packets.
	m = f.model(160, 30)
	if s := m.Render(); !strings.Contains(s, "kernel drops -") || !strings.Contains(s, "-r test.pcap: reading") {
		t.Errorf("file header:\n%s", s)
	}
	f.done = true
	m.Update(doneMsg{})
	if s := m.Render(); !strings.Contains(s, "-r test.pcap: read to the end") {
		t.Errorf("done header:\n%s", s)
	}
}

func TestEmpty(t *testing.T) {
	m := New(Config{Fetch: func() Snapshot { return Snapshot{} }})
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 10})
	keys(m, "j", "enter", "k")
	if m.detail || !strings.Contains(m.Render(), "no handshakes yet") {
		t.Errorf("empty:\n%s", m.Render())
	}
	checkSize(t, m)
}
