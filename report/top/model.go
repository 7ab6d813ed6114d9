package top

import (
	"cmp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"

	"github.com/hellowatch/hellowatch/report"
)

// Snapshot is what the view shows: the summary's rows and the capture's
// statistics at one moment.
type Snapshot struct {
	Rows  []report.ServerRow
	Stats report.Stats
	// At is when the snapshot was taken (wall clock): packets/s is the
	// packets counted between two snapshots over the time between them.
	At time.Time
	// Done says that the capture is over (the files were read to the end,
	// -c was reached, or reading failed: Err). Stats are then final, and
	// packets/s is Packets over Duration, as the end summary says.
	Done bool
	Err  string
}

// Config says where a Model gets its data and how it looks.
type Config struct {
	// Fetch returns the current snapshot; called at every refresh, on the
	// view's goroutine. It must be safe to call while the capture runs.
	Fetch func() Snapshot
	// Done, when not nil, is closed when the capture is over, so that the
	// view refreshes at once rather than at its next tick.
	Done <-chan struct{}
	// Refresh is the time between refreshes (default 1 s).
	Refresh time.Duration
	// Color turns ANSI colour on (the command decides: --color, NO_COLOR).
	Color bool
	// Live says the source is an interface (kernel drops are counted).
	Live bool
	// Source names the capture in the header ("-i eth0", "-r a.pcap").
	Source string
}

// Sort is a row order; the s key cycles through them.
type Sort int

// Row orders. Ties are broken by failures, then handshakes, then name.
const (
	SortFailures Sort = iota // most failed handshakes first
	SortFailPct              // highest share of failed handshakes first
	SortRate                 // most handshakes per second first
	SortTotal                // most handshakes first
	SortP95                  // slowest answer (p95) first
	SortName                 // by server, then SNI
	numSorts
)

var sortNames = [...]string{"failures", "failed %", "handshakes/s", "handshakes", "answer p95", "name"}

func (s Sort) String() string {
	if s >= 0 && int(s) < len(sortNames) {
		return sortNames[s]
	}
	return "?"
}

// maxFilter caps the filter typed after /.
const maxFilter = 256

// Model is the view's state. Update changes it; View renders it.
type Model struct {
	cfg Config

	snap     Snapshot
	havePrev bool
	prevPkts uint64
	prevAt   time.Time
	pps      float64 // packets/s between the last two snapshots

	width, height int

	rows    []report.ServerRow // the rows shown: filtered and sorted
	minWide int                // the narrowest screen for one line per row
	sel     int                // index into rows
	selKey  string             // the selected row's name, to follow it when rows move
	top     int                // first row on screen

	sort     Sort
	failOnly bool
	paused   bool

	filter     string
	editing    bool   // typing the filter
	filterPrev string // the filter before editing, for esc

	detail    bool
	detailTop int // first line of the detail on screen

	quitting bool
}

// New returns a Model; it fetches its first snapshot at once.
func New(cfg Config) *Model {
	if cfg.Refresh <= 0 {
		cfg.Refresh = time.Second
	}
	m := &Model{cfg: cfg, width: 80, height: 24}
	m.refresh()
	return m
}

type tickMsg struct{}

type doneMsg struct{}

func (m *Model) tick() tea.Cmd {
	return tea.Tick(m.cfg.Refresh, func(time.Time) tea.Msg { return tickMsg{} })
}

// Init starts the refresh ticks and waits for the end of the capture.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.tick()}
	if m.cfg.Done != nil {
		done := m.cfg.Done
		cmds = append(cmds, func() tea.Msg { <-done; return doneMsg{} })
	}
	return tea.Batch(cmds...)
}

// Update handles a key, a tick or a new terminal size.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.place()
	case tickMsg:
		if !m.paused && !m.snap.Done {
			m.refresh()
		}
		return m, m.tick()
	case doneMsg:
		if !m.paused {
			m.refresh()
		}
	case tea.KeyPressMsg:
		m.key(msg)
		if m.quitting {
			return m, tea.Quit
		}
	}
	return m, nil
}

// refresh takes a new snapshot and recomputes the rows shown.
func (m *Model) refresh() {
	if m.cfg.Fetch == nil {
		return
	}
	s := m.cfg.Fetch()
	if m.havePrev && !s.At.IsZero() && s.At.After(m.prevAt) {
		m.pps = float64(s.Stats.Packets-min(m.prevPkts, s.Stats.Packets)) / s.At.Sub(m.prevAt).Seconds()
	}
	m.havePrev = !s.At.IsZero()
	m.prevPkts, m.prevAt = s.Stats.Packets, s.At
	m.snap = s
	m.relist()
}

// packetsPerSecond is the header's rate: between the last two snapshots
// while capturing, over the whole run once done (or before a second
// snapshot).
func (m *Model) packetsPerSecond() float64 {
	if m.snap.Done || m.pps == 0 && m.snap.Stats.Duration > 0 {
		if m.snap.Stats.Duration <= 0 {
			return 0
		}
		return float64(m.snap.Stats.Packets) / m.snap.Stats.Duration.Seconds()
	}
	return m.pps
}

// key handles one key press.
func (m *Model) key(k tea.KeyPressMsg) {
	s := k.String()
	if s == "ctrl+c" {
		m.quitting = true
		return
	}
	switch {
	case m.editing:
		m.editKey(k, s)
	case m.detail:
		m.detailKey(s)
	default:
		m.listKey(s)
	}
}

func (m *Model) listKey(s string) {
	switch s {
	case "q":
		m.quitting = true
	case "up", "k":
		m.move(-1)
	case "down", "j":
		m.move(1)
	case "pgup":
		m.move(-m.rowsOnScreen())
	case "pgdown", "space":
		m.move(m.rowsOnScreen())
	case "home", "g":
		m.move(-len(m.rows))
	case "end", "G":
		m.move(len(m.rows))
	case "enter":
		if len(m.rows) > 0 {
			m.detail, m.detailTop = true, 0
		}
	case "/":
		m.editing, m.filterPrev = true, m.filter
	case "esc":
		if m.filter != "" {
			m.filter = ""
			m.relist()
		}
	case "s":
		m.sort = (m.sort + 1) % numSorts
		m.relist()
	case "f":
		m.failOnly = !m.failOnly
		m.relist()
	case "p":
		m.paused = !m.paused
		if !m.paused {
			m.refresh()
		}
	}
}

func (m *Model) editKey(k tea.KeyPressMsg, s string) {
	switch s {
	case "enter":
		m.editing = false
	case "esc":
		m.editing, m.filter = false, m.filterPrev
	case "backspace":
		if m.filter != "" {
			_, n := utf8.DecodeLastRuneInString(m.filter)
			m.filter = m.filter[:len(m.filter)-n]
		}
	default:
		if k.Text == "" || len(m.filter)+len(k.Text) > maxFilter {
			return
		}
		m.filter += k.Text
	}
	m.relist()
}

func (m *Model) detailKey(s string) {
	page := max(m.height-3, 1)
	switch s {
	case "q":
		m.quitting = true
	case "esc", "enter", "backspace", "left", "h":
		m.detail = false
	case "up", "k":
		m.detailTop--
	case "down", "j":
		m.detailTop++
	case "pgup":
		m.detailTop -= page
	case "pgdown", "space":
		m.detailTop += page
	case "home", "g":
		m.detailTop = 0
	case "end", "G":
		m.detailTop = 1 << 30
	case "p":
		m.paused = !m.paused
		if !m.paused {
			m.refresh()
		}
	}
	m.detailTop = max(m.detailTop, 0) // the end is clamped when rendered
}

// move moves the selection by d rows.
func (m *Model) move(d int) {
	if len(m.rows) == 0 {
		return
	}
	m.sel = min(max(m.sel+d, 0), len(m.rows)-1)
	m.selKey = m.rows[m.sel].String()
	m.place()
}

// relist filters and sorts the snapshot's rows, keeping the selected row
// selected when it is still shown.
func (m *Model) relist() {
	m.rows = m.rows[:0]
	f := strings.ToLower(m.filter)
	for _, r := range m.snap.Rows {
		if m.failOnly && r.Failed == 0 {
			continue
		}
		if f != "" && !matches(&r, f) {
			continue
		}
		m.rows = append(m.rows, r)
	}
	slices.SortFunc(m.rows, m.compare)
	m.minWide = wideWidth(m.rows)
	found := false
	for i := range m.rows {
		if m.rows[i].String() == m.selKey {
			m.sel, found = i, true
			break
		}
	}
	if !found {
		m.sel = min(m.sel, max(len(m.rows)-1, 0))
		m.selKey = ""
		if len(m.rows) > 0 {
			m.selKey = m.rows[m.sel].String()
		}
	}
	m.place()
}

// matches reports whether the row's server address or SNI contains f
// (lower case), as sent or as printed escaped.
func matches(r *report.ServerRow, f string) bool {
	for _, s := range []string{r.ServerText(), r.SNIText(), r.SNI} {
		if strings.Contains(strings.ToLower(s), f) {
			return true
		}
	}
	return false
}

func failPct(r *report.ServerRow) float64 {
	if r.Total == 0 {
		return 0
	}
	return 100 * float64(r.Failed) / float64(r.Total)
}

func (m *Model) compare(a, b report.ServerRow) int {
	c := 0
	switch m.sort {
	case SortFailPct:
		c = cmp.Compare(failPct(&b), failPct(&a))
	case SortRate:
		c = cmp.Compare(b.Rate, a.Rate)
	case SortTotal:
		c = cmp.Compare(b.Total, a.Total)
	case SortP95:
		c = cmp.Compare(b.AnswerP95, a.AnswerP95)
	case SortName:
		c = cmp.Or(cmp.Compare(a.ServerText(), b.ServerText()), cmp.Compare(a.SNIText(), b.SNIText()))
	}
	return cmp.Or(c,
		cmp.Compare(b.Failed, a.Failed),
		cmp.Compare(b.Total, a.Total),
		strings.Compare(a.String(), b.String()))
}

// rowsOnScreen is how many rows the list shows at the current size.
func (m *Model) rowsOnScreen() int {
	n := max(m.height-4, 1) // two header lines, the column titles, the footer
	if m.narrow() {
		n = max(n/2, 1)
	}
	return n
}

// place scrolls the list so that the selected row is on screen.
func (m *Model) place() {
	n := m.rowsOnScreen()
	if m.sel < m.top {
		m.top = m.sel
	}
	if m.sel >= m.top+n {
		m.top = m.sel - n + 1
	}
	m.top = max(min(m.top, len(m.rows)-n), 0)
}

// Selected returns the selected row, if any.
func (m *Model) Selected() (report.ServerRow, bool) {
	if m.sel < len(m.rows) {
		return m.rows[m.sel], true
	}
	return report.ServerRow{}, false
}
