package top

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/report"
)

// SGR sequences, used only when colour is on.
const (
	sgrReset   = "\x1b[0m"
	sgrBold    = "\x1b[1m"
	sgrDim     = "\x1b[2m"
	sgrReverse = "\x1b[7m"
	sgrRed     = "\x1b[31m"
	sgrGreen   = "\x1b[32m"
	sgrYellow  = "\x1b[33m"
)

func (m *Model) paint(code, s string) string {
	if !m.cfg.Color || s == "" {
		return s
	}
	return code + s + sgrReset
}

// View implements tea.Model: the screen in the terminal's alternate
// screen, as Render draws it.
func (m *Model) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	v.WindowTitle = "hellowatch top"
	return v
}

// Render draws the screen: at most height lines, none wider than width
// columns. It reads only the Model: the same state draws the same text.
func (m *Model) Render() string {
	if m.quitting {
		return ""
	}
	var lines []string
	if m.detail {
		lines = m.renderDetail()
	} else {
		lines = m.renderList()
	}
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, m.width, "…")
	}
	return strings.Join(lines, "\n")
}

// narrow says the one-line table does not fit: each row then takes two
// lines, the name on the first, the numbers on the second.
func (m *Model) narrow() bool { return m.width < m.minWide }

// Column widths of the one-line layout. The numbers have fixed widths and
// are right-aligned (their width includes the space before them); the text
// columns get what they need, and when the terminal is too narrow for it
// the last end and then the SNI give way, down to their minimum widths.
// The server address and the finding are never cut: when they do not fit,
// the two-line layout is used.
const (
	wRate, wFailed, wPct, wP50, wP95 = 6, 6, 6, 6, 6
	wNumbers                         = wRate + wFailed + wPct + wP50 + wP95
	gap                              = 2
	maxServer, maxSNI, maxFinding    = 47, 64, 32 // an IPv6 address with a port, a long name
	minSNI, minEnd                   = 20, 10
)

// textWidths are the natural widths of the text columns over rows.
func textWidths(rows []report.ServerRow) (server, sni, finding, end int) {
	server, sni, finding, end = len("SERVER"), len("SNI"), len("TOP FINDING"), len("LAST END")
	for i := range rows {
		c := cellsOf(&rows[i])
		server = max(server, ansi.StringWidth(c.server))
		sni = max(sni, ansi.StringWidth(c.sni))
		finding = max(finding, ansi.StringWidth(c.finding))
		end = max(end, ansi.StringWidth(c.end))
	}
	return min(server, maxServer), min(sni, maxSNI), min(finding, maxFinding), end
}

// wideWidth is the narrowest screen that shows rows on one line each.
func wideWidth(rows []report.ServerRow) int {
	ws, wn, wf, we := textWidths(rows)
	return 2 + ws + gap + min(wn, minSNI) + wNumbers + gap + wf + gap + min(we, minEnd)
}

type cells struct {
	server, sni, rate, failed, pct, p50, p95, finding, end string
}

func cellsOf(r *report.ServerRow) cells {
	c := cells{
		server: r.ServerText(), sni: r.SNIText(),
		rate: fmtRate(r.Rate), failed: fmtCount(r.Failed), pct: fmtPct(r),
		p50: "-", p95: "-", finding: "-", end: "-",
	}
	if r.Answered > 0 {
		c.p50, c.p95 = fmtDur(r.AnswerP50), fmtDur(r.AnswerP95)
	}
	if len(r.Findings) > 0 {
		c.finding = r.Findings[0].Name + " " + fmtCount(r.Findings[0].N)
	}
	if r.LastEnd != "" {
		c.end = r.LastEnd
	}
	return c
}

func (m *Model) header() []string {
	st := &m.snap.Stats
	drops := "-"
	if m.cfg.Live {
		drops = fmtCount(st.KernelDropped)
		if st.KernelDropped > 0 {
			drops = m.paint(sgrRed, drops)
		}
	}
	caps := st.Evicted["flow_limit"] + st.Evicted["buffer_limit"]
	capText := fmtCount(caps)
	if caps > 0 {
		capText = m.paint(sgrRed, fmt.Sprintf("%s (flows %d, buffer %d)", capText, st.Evicted["flow_limit"], st.Evicted["buffer_limit"]))
	}
	pps := fmtRate(m.packetsPerSecond())
	l1 := m.first(
		m.paint(sgrBold, "hellowatch top")+" · packets/s "+pps+" · kernel drops "+drops+
			" · flows tracked "+fmtCount(st.FlowsTracked)+" · memory caps hit "+capText,
		"packets/s "+pps+" · drops "+drops+" · flows "+fmtCount(st.FlowsTracked)+" · caps hit "+capText)

	var total, failed, incomplete uint64
	var rate float64
	for i := range m.snap.Rows {
		r := &m.snap.Rows[i]
		total += r.Total
		failed += r.Failed
		rate += r.Rate
		for _, c := range r.Outcomes {
			if c.Name == handshake.OutcomeIncomplete.String() {
				incomplete += c.N
			}
		}
	}
	var parts []string
	if m.paused {
		parts = append(parts, m.paint(sgrBold+sgrYellow, "PAUSED"))
	}
	state := "live"
	switch {
	case m.snap.Err != "":
		state = m.paint(sgrRed, "stopped: "+report.EscapeWire(m.snap.Err))
	case m.snap.Done && m.cfg.Live:
		state = "stopped"
	case m.snap.Done:
		state = "read to the end"
	case !m.cfg.Live:
		state = "reading"
	}
	withSource := state
	if m.cfg.Source != "" {
		withSource = m.cfg.Source + ": " + state
	}
	at := len(parts)
	parts = append(parts, withSource)
	ft := fmt.Sprintf("%s failed", fmtCount(failed))
	if failed > 0 {
		ft = m.paint(sgrRed, ft)
	}
	counts := fmtCount(total) + " handshakes, " + ft
	if incomplete > 0 {
		counts += ", " + fmtCount(incomplete) + " incomplete"
	}
	parts = append(parts, counts+", "+fmtRate(rate)+"/s")
	if m.filter != "" && !m.editing {
		parts = append(parts, `filter "`+report.EscapeWire(m.filter)+`"`)
	}
	if m.failOnly {
		parts = append(parts, "failures only")
	}
	parts = append(parts, "sort: "+m.sort.String())
	full := strings.Join(parts, " · ")
	parts[at] = state // a narrow screen goes without the source's name
	return []string{l1, m.first(full, strings.Join(parts, " · "))}
}

func (m *Model) footer() string {
	if m.editing {
		return "filter (SNI or address): " + report.EscapeWire(m.filter) + m.paint(sgrReverse, " ") + "   enter keep · esc cancel"
	}
	if m.detail {
		return m.paint(sgrDim, m.first("↑↓/jk scroll · esc back · p pause · q quit", "jk scroll · esc · p · q"))
	}
	return m.paint(sgrDim, m.first(
		"↑↓/jk move · enter failures · / filter · s sort · f failures only · p pause · q quit",
		"jk move · enter failures · / filter · s sort · f failed · p pause · q quit",
		"jk · enter · / filter · s sort · f · p · q quit"))
}

// first returns the first of the texts that fits the width, else the last.
func (m *Model) first(texts ...string) string {
	for _, t := range texts {
		if ansi.StringWidth(t) <= m.width {
			return t
		}
	}
	return texts[len(texts)-1]
}

func (m *Model) renderList() []string {
	lines := m.header()
	n := m.rowsOnScreen()
	end := min(m.top+n, len(m.rows))
	var body []string
	if m.narrow() {
		body = m.narrowRows(end)
	} else {
		body = m.wideRows(end)
	}
	if len(m.rows) == 0 {
		msg := "no handshakes yet"
		switch {
		case len(m.snap.Rows) > 0 && m.filter != "":
			msg = "no row matches the filter"
		case len(m.snap.Rows) > 0:
			msg = "no failed handshakes"
		}
		body = append(body, "  "+msg)
	}
	lines = append(lines, body...)
	// The footer goes on the last line of the screen.
	for len(lines) < m.height-1 {
		lines = append(lines, "")
	}
	return append(lines, m.footer())
}

func (m *Model) wideRows(end int) []string {
	ws, wn, wf, we := textWidths(m.rows[m.top:end])
	over := 2 + ws + gap + wn + wNumbers + gap + wf + gap + we - m.width
	shrink := func(w *int, least int) {
		if over > 0 {
			d := min(over, max(*w-least, 0))
			*w -= d
			over -= d
		}
	}
	shrink(&we, minEnd)
	shrink(&wn, minSNI)
	all := make([]cells, 0, end-m.top)
	for i := m.top; i < end; i++ {
		all = append(all, cellsOf(&m.rows[i]))
	}

	row := func(c cells) string {
		return pad(c.server, ws) + strings.Repeat(" ", gap) + pad(c.sni, wn) +
			padLeft(c.rate, wRate) + padLeft(c.failed, wFailed) + padLeft(c.pct, wPct) +
			padLeft(c.p50, wP50) + padLeft(c.p95, wP95) + strings.Repeat(" ", gap) +
			pad(c.finding, wf) + strings.Repeat(" ", gap) + ansi.Truncate(c.end, we, "…")
	}
	title := "  " + row(cells{server: "SERVER", sni: "SNI", rate: "HS/S", failed: "FAIL", pct: "FAIL%",
		p50: "P50", p95: "P95", finding: "TOP FINDING", end: "LAST END"})
	out := []string{m.paint(sgrBold, strings.TrimRight(title, " "))}
	for i, c := range all {
		out = append(out, m.rowLine(m.top+i, c, row))
	}
	return out
}

// rowLine renders row i: the selected one marked with ">" (and reversed
// when in colour), a failing one in red.
func (m *Model) rowLine(i int, c cells, layout func(cells) string) string {
	r := &m.rows[i]
	if i == m.sel {
		if !m.cfg.Color {
			return "> " + strings.TrimRight(layout(c), " ")
		}
		return m.paint(sgrReverse, "> "+layout(c))
	}
	if r.Failed > 0 && m.cfg.Color {
		c.pct = sgrRed + c.pct + sgrReset
		c.finding = sgrRed + c.finding + sgrReset
	}
	return "  " + strings.TrimRight(layout(c), " ")
}

func (m *Model) narrowRows(end int) []string {
	out := []string{m.paint(sgrBold, "  SERVER SNI / HS/S, FAIL, P50/P95, TOP FINDING, LAST END")}
	for i := m.top; i < end; i++ {
		c := cellsOf(&m.rows[i])
		l1 := c.server + " " + c.sni
		l2 := "  " + c.rate + "/s  " + c.failed + " failed " + c.pct + "  " + c.p50 + "/" + c.p95 + "  " + c.finding + "  " + c.end
		if i == m.sel {
			if m.cfg.Color {
				l1, l2 = pad(l1, m.width-2), pad(l2, m.width-2)
			}
			out = append(out, m.paint(sgrReverse, "> "+l1), m.paint(sgrReverse, "  "+l2))
			continue
		}
		if m.rows[i].Failed > 0 {
			l2 = strings.Replace(l2, c.finding, m.paint(sgrRed, c.finding), 1)
		}
		out = append(out, "  "+l1, "  "+l2)
	}
	return out
}

// detailLines renders the selected row's latest failed handshakes with the
// text output's writer, wrapped to the width.
func (m *Model) detailLines() []string {
	r, ok := m.Selected()
	if !ok {
		return []string{"no row selected"}
	}
	head := fmt.Sprintf("%s %s: %s of %s handshakes failed", r.ServerText(), r.SNIText(), fmtCount(r.Failed), fmtCount(r.Total))
	switch {
	case r.Failed == 0:
		head += "."
	case len(r.Recent) == 1:
		head += "; the latest:"
	case len(r.Recent) > 1:
		head += fmt.Sprintf("; the latest %d, newest first:", len(r.Recent))
	}
	lines := []string{m.paint(sgrBold, head)}
	if len(r.Findings) > 0 {
		var fs []string
		for _, f := range r.Findings {
			fs = append(fs, f.Name+" "+fmtCount(f.N))
		}
		lines = append(lines, "findings: "+strings.Join(fs, ", "))
	}
	var buf bytes.Buffer
	tw := report.NewTextWriter(&buf, m.cfg.Color)
	for _, rec := range r.Recent {
		buf.Reset()
		if err := tw.Write(rec.Handshake, rec.Findings); err != nil {
			continue // a bytes.Buffer does not fail
		}
		lines = append(lines, "")
		for _, l := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
			lines = append(lines, wrap(l, m.width)...)
		}
	}
	return lines
}

func (m *Model) renderDetail() []string {
	body := m.detailLines()
	n := max(m.height-1, 1)
	m.detailTop = min(m.detailTop, max(len(body)-n, 0))
	end := min(m.detailTop+n, len(body))
	lines := append([]string(nil), body[m.detailTop:end]...)
	for len(lines) < m.height-1 {
		lines = append(lines, "")
	}
	foot := m.footer()
	if len(body) > n {
		foot += m.paint(sgrDim, fmt.Sprintf(" · lines %d-%d of %d", m.detailTop+1, end, len(body)))
	}
	return append(lines, foot)
}

// wrap breaks a text line to width columns; continuation lines are
// indented two columns past the line's own indent, so that an evidence
// item or a fix reads as one block.
func wrap(l string, width int) []string {
	if ansi.StringWidth(l) <= width || width < 20 {
		return []string{l}
	}
	plain := ansi.Strip(l)
	indent := len(plain) - len(strings.TrimLeft(plain, " "))
	cont := strings.Repeat(" ", min(indent+2, width/2))
	first := true
	var out []string
	rest := l
	for rest != "" {
		w := width
		if !first {
			w -= len(cont)
		}
		parts := strings.SplitN(ansi.Wrap(rest, w, ""), "\n", 2)
		if first {
			out = append(out, parts[0])
		} else {
			out = append(out, cont+strings.TrimLeft(parts[0], " "))
		}
		first = false
		if len(parts) < 2 {
			break
		}
		rest = parts[1]
	}
	return out
}

func pad(s string, w int) string {
	s = ansi.Truncate(s, w, "…")
	return s + strings.Repeat(" ", max(w-ansi.StringWidth(s), 0))
}

func padLeft(s string, w int) string {
	s = ansi.Truncate(s, w-1, "…") // keep a space before the number
	return strings.Repeat(" ", max(w-ansi.StringWidth(s), 0)) + s
}

func fmtCount(n uint64) string {
	switch {
	case n < 100_000:
		return strconv.FormatUint(n, 10)
	case n < 10_000_000:
		return strconv.FormatFloat(float64(n)/1e3, 'f', 0, 64) + "k"
	default:
		return strconv.FormatFloat(float64(n)/1e6, 'f', 0, 64) + "M"
	}
}

func fmtRate(r float64) string {
	switch {
	case r <= 0:
		return "0"
	case r < 10:
		return strconv.FormatFloat(r, 'f', 1, 64)
	case r < 10_000:
		return strconv.FormatFloat(r, 'f', 0, 64)
	case r < 10_000_000:
		return strconv.FormatFloat(r/1e3, 'f', 0, 64) + "k"
	default:
		return strconv.FormatFloat(r/1e6, 'f', 0, 64) + "M"
	}
}

func fmtPct(r *report.ServerRow) string {
	p := failPct(r)
	switch {
	case r.Failed == 0:
		return "0%"
	case p < 1:
		return strconv.FormatFloat(p, 'f', 1, 64) + "%"
	default:
		return strconv.FormatFloat(p, 'f', 0, 64) + "%"
	}
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return "<1µs"
	case d < time.Millisecond:
		return strconv.FormatInt(int64(d/time.Microsecond), 10) + "µs"
	case d < 10*time.Millisecond:
		return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64) + "ms"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/1e6, 'f', 0, 64) + "ms"
	case d < 10*time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + "s"
	default:
		return strconv.FormatFloat(d.Seconds(), 'f', 0, 64) + "s"
	}
}
