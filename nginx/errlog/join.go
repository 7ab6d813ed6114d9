package errlog

import (
	"cmp"
	"net/netip"
	"slices"
	"time"
)

// Handshake is what the joiner needs of a finished handshake: the upstream
// it went to and when it ran (packet time).
type Handshake struct {
	// ID identifies the handshake to the caller (a record index, a packet
	// number); it breaks ties, so give equal handshakes distinct IDs.
	ID     uint64
	Server netip.AddrPort
	// Start is the ClientHello's time, End when the outcome was decided.
	Start, End time.Time
	// Failed is true for a handshake that did not establish.
	Failed bool
	// Answered is true when the server sent anything (bytes, FIN, RST)
	// after the ClientHello: a "timed out" line is not about such a one.
	Answered bool
}

// JoinConfig sets the joiner's tolerances.
type JoinConfig struct {
	// Skew is how far the log's clock (seconds, local time) and the
	// capture's may disagree (default 2 s).
	Skew time.Duration
	// MaxTimeout is how long after its ClientHello nginx may log that the
	// handshake timed out: proxy_connect_timeout, which "usually cannot
	// exceed 75 seconds" (nginx docs; default 75 s).
	MaxTimeout time.Duration
	// Latency (live only) is how long one side may arrive after the other
	// would have matched it: the capture reports a handshake when it is
	// decided (up to its --timeout after the hello), nginx writes its line
	// when it gives up (default 15 s).
	Latency time.Duration
	// MaxPending caps the lines and the handshakes held each (default
	// 65536); beyond it the oldest are decided early.
	MaxPending int
}

func (c JoinConfig) withDefaults() JoinConfig {
	if c.Skew <= 0 {
		c.Skew = 2 * time.Second
	}
	if c.MaxTimeout <= 0 {
		c.MaxTimeout = 75 * time.Second
	}
	if c.Latency <= 0 {
		c.Latency = 15 * time.Second
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 1 << 16
	}
	return c
}

// Match is a log line joined to the handshake it is about.
type Match struct {
	Entry     Entry
	Handshake Handshake
	// Gap is how far the line's second lies outside the handshake's span
	// (0 when inside).
	Gap time.Duration
}

// JoinStats counts what a Joiner decided.
type JoinStats struct {
	Lines, Handshakes int64
	Matched           int64
	// UnexplainedLines are lines no handshake explains (the capture's
	// filter is too narrow, another interface, a clock off by more than
	// the skew).
	UnexplainedLines int64
	// SilentFailures are failed handshakes with no log line (another
	// client than nginx, a log not given, nginx logging below its level).
	SilentFailures int64
	// Early counts items decided before their time because MaxPending was
	// reached.
	Early int64
}

// Joiner joins log entries to handshakes. Each line goes to at most one
// handshake and each handshake gets at most one line: the handshake to the
// same upstream address whose span, from ClientHello to end, is nearest to
// the line's second, within the skew (a "timed out" line may come up to
// MaxTimeout after the hello). Among candidates it prefers the nearest,
// then a failed handshake for a line about a failed handshake, then the
// handshake that ended nearest the line, then content order, so the result
// does not depend on the order things were added.
//
// Batch use: Add everything, then Close. Live use: Add as things arrive and
// call Advance with the current time; an item is decided once no later
// arrival could change it (Latency after it could have matched), so memory
// holds only that window (and at most MaxPending per side).
//
// The callbacks run on the goroutine that calls Add, Advance or Close.
type Joiner struct {
	cfg JoinConfig
	// OnMatch, OnUnexplained, OnSilent receive each decision.
	OnMatch       func(Match)
	OnUnexplained func(Entry)
	OnSilent      func(Handshake)

	lines []Entry
	hs    []Handshake
	stats JoinStats
}

// NewJoiner returns a Joiner with cfg's tolerances (zero fields take their
// defaults).
func NewJoiner(cfg JoinConfig) *Joiner { return &Joiner{cfg: cfg.withDefaults()} }

// Stats returns the counts so far.
func (j *Joiner) Stats() JoinStats { return j.stats }

// AddEntry holds a log line until it is decided. A line without an IP
// upstream address cannot be joined and is decided at once.
func (j *Joiner) AddEntry(e Entry) {
	j.stats.Lines++
	if !e.UpstreamAddr.IsValid() {
		j.unexplained(e)
		return
	}
	e.UpstreamAddr = unmap(e.UpstreamAddr)
	j.lines = append(j.lines, e)
	if len(j.lines) > j.cfg.MaxPending {
		j.decideEarly(true)
	}
}

// AddHandshake holds a finished handshake until it is decided.
func (j *Joiner) AddHandshake(h Handshake) {
	j.stats.Handshakes++
	h.Server = unmap(h.Server)
	if h.End.Before(h.Start) {
		h.End = h.Start
	}
	j.hs = append(j.hs, h)
	if len(j.hs) > j.cfg.MaxPending {
		j.decideEarly(false)
	}
}

// Advance decides every line and handshake that nothing arriving after now
// could change.
func (j *Joiner) Advance(now time.Time) {
	j.decide(func(e Entry) bool { return !j.lineDeadline(e).After(now) },
		func(h Handshake) bool { return !j.hsDeadline(h).After(now) })
}

// Close decides everything held (the end of the input).
func (j *Joiner) Close() {
	j.decide(func(Entry) bool { return true }, func(Handshake) bool { return true })
}

// lineDeadline: after it, no handshake that could explain e can still arrive.
func (j *Joiner) lineDeadline(e Entry) time.Time {
	return e.Time.Add(time.Second + j.cfg.Skew + j.cfg.Latency)
}

// hsDeadline: after it, no line about h can still arrive.
func (j *Joiner) hsDeadline(h Handshake) time.Time {
	return j.latest(h).Add(j.cfg.Skew + j.cfg.Latency)
}

// latest is the last second a line about h can carry: its end, or for a
// timeout up to MaxTimeout after the hello.
func (j *Joiner) latest(h Handshake) time.Time {
	if t := h.Start.Add(j.cfg.MaxTimeout); t.After(h.End) {
		return t
	}
	return h.End
}

func (j *Joiner) decideEarly(lines bool) {
	j.stats.Early++
	if lines {
		oldest := j.lines[0].Time
		for _, e := range j.lines {
			if e.Time.Before(oldest) {
				oldest = e.Time
			}
		}
		j.decide(func(e Entry) bool { return !e.Time.After(oldest) }, func(Handshake) bool { return false })
		return
	}
	oldest := j.hs[0].End
	for _, h := range j.hs {
		if h.End.Before(oldest) {
			oldest = h.End
		}
	}
	j.decide(func(Entry) bool { return false }, func(h Handshake) bool { return !h.End.After(oldest) })
}

type candidate struct {
	line, hs int
	gap      time.Duration
	penalty  int
	toEnd    time.Duration
}

// decide joins the ripe lines to any held handshake, then lets go of the
// ripe lines (matched or not) and of the ripe handshakes.
func (j *Joiner) decide(lineRipe func(Entry) bool, hsRipe func(Handshake) bool) {
	byServer := map[netip.AddrPort][]int{}
	for i, h := range j.hs {
		byServer[h.Server] = append(byServer[h.Server], i)
	}
	var cands []candidate
	var ripe []int
	for li, e := range j.lines {
		if !lineRipe(e) {
			continue
		}
		ripe = append(ripe, li)
		for _, hi := range byServer[e.UpstreamAddr] {
			if gap, ok := j.gap(e, j.hs[hi]); ok {
				cands = append(cands, candidate{line: li, hs: hi, gap: gap, penalty: penalty(e, j.hs[hi]), toEnd: absDur(e.Time.Sub(j.hs[hi].End))})
			}
		}
	}
	slices.SortFunc(cands, func(a, b candidate) int {
		if c := cmp.Compare(a.gap, b.gap); c != 0 {
			return c
		}
		if c := cmp.Compare(a.penalty, b.penalty); c != 0 {
			return c
		}
		if c := cmp.Compare(a.toEnd, b.toEnd); c != 0 {
			return c
		}
		ha, hb := j.hs[a.hs], j.hs[b.hs]
		if c := ha.End.Compare(hb.End); c != 0 {
			return c
		}
		if c := ha.Start.Compare(hb.Start); c != 0 {
			return c
		}
		if c := cmp.Compare(ha.ID, hb.ID); c != 0 {
			return c
		}
		la, lb := j.lines[a.line], j.lines[b.line]
		if c := cmp.Compare(la.File, lb.File); c != 0 {
			return c
		}
		if c := cmp.Compare(la.Line, lb.Line); c != 0 {
			return c
		}
		return cmp.Compare(la.Raw, lb.Raw)
	})
	// Greedy in that order, then augmenting paths (Kuhn) so that a line
	// whose only handshake was taken by a line with other choices still
	// gets it: as many lines explained as possible, nearest first.
	lineOf := make([]int, len(j.hs)) // hs -> candidate index holding it, -1
	for i := range lineOf {
		lineOf[i] = -1
	}
	hsOf := make([]int, len(j.lines)) // line -> candidate index, -1
	for i := range hsOf {
		hsOf[i] = -1
	}
	perLine := map[int][]int{}
	for ci, c := range cands {
		perLine[c.line] = append(perLine[c.line], ci)
		if hsOf[c.line] < 0 && lineOf[c.hs] < 0 {
			hsOf[c.line], lineOf[c.hs] = ci, ci
		}
	}
	budget := 0
	var augment func(line int, seen map[int]bool) bool
	augment = func(line int, seen map[int]bool) bool {
		for _, ci := range perLine[line] {
			h := cands[ci].hs
			if seen[h] || budget <= 0 {
				continue
			}
			seen[h] = true
			budget--
			if lineOf[h] < 0 || augment(cands[lineOf[h]].line, seen) {
				hsOf[line], lineOf[h] = ci, ci
				return true
			}
		}
		return false
	}
	for _, li := range ripe {
		if hsOf[li] < 0 && len(perLine[li]) > 0 {
			budget = 4096 // bounds the work per line
			augment(li, map[int]bool{})
		}
	}
	lineDone := make([]bool, len(j.lines))
	hsDone := make([]bool, len(j.hs))
	var matches []Match
	for li, ci := range hsOf {
		if ci < 0 {
			continue
		}
		c := cands[ci]
		lineDone[li], hsDone[c.hs] = true, true
		matches = append(matches, Match{Entry: j.lines[li], Handshake: j.hs[c.hs], Gap: c.gap})
	}
	// Report in a content order too: by line time, then file and line.
	slices.SortStableFunc(matches, func(a, b Match) int {
		if c := a.Entry.Time.Compare(b.Entry.Time); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Entry.File, b.Entry.File); c != 0 {
			return c
		}
		return cmp.Compare(a.Entry.Line, b.Entry.Line)
	})
	for _, m := range matches {
		j.stats.Matched++
		if j.OnMatch != nil {
			j.OnMatch(m)
		}
	}
	var unexplained []Entry
	keepLines := j.lines[:0]
	for i, e := range j.lines {
		switch {
		case lineDone[i]:
		case lineRipe(e):
			unexplained = append(unexplained, e)
		default:
			keepLines = append(keepLines, e)
		}
	}
	slices.SortStableFunc(unexplained, func(a, b Entry) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		if c := cmp.Compare(a.File, b.File); c != 0 {
			return c
		}
		return cmp.Compare(a.Line, b.Line)
	})
	for _, e := range unexplained {
		j.unexplained(e)
	}
	clear(j.lines[len(keepLines):])
	j.lines = keepLines
	var silent []Handshake
	keepHS := j.hs[:0]
	for i, h := range j.hs {
		switch {
		case hsDone[i]:
		case hsRipe(h):
			if h.Failed {
				silent = append(silent, h)
			}
		default:
			keepHS = append(keepHS, h)
		}
	}
	slices.SortStableFunc(silent, func(a, b Handshake) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	for _, h := range silent {
		j.stats.SilentFailures++
		if j.OnSilent != nil {
			j.OnSilent(h)
		}
	}
	clear(j.hs[len(keepHS):])
	j.hs = keepHS
}

func (j *Joiner) unexplained(e Entry) {
	j.stats.UnexplainedLines++
	if j.OnUnexplained != nil {
		j.OnUnexplained(e)
	}
}

// gap is how far the line's second [T, T+1s) lies outside the handshake's
// span; ok is false beyond the skew.
func (j *Joiner) gap(e Entry, h Handshake) (time.Duration, bool) {
	lo, hi := e.Time, e.Time.Add(time.Second)
	end := h.End
	if e.Kind == KindTimeout {
		end = j.latest(h)
	}
	var g time.Duration
	switch {
	case hi.Before(h.Start):
		g = h.Start.Sub(hi)
	case lo.After(end):
		g = lo.Sub(end)
	}
	return g, g <= j.cfg.Skew
}

// penalty counts disagreements: the line says the handshake failed but the
// capture saw it established; the line says nginx timed out but the server
// answered. nginx's certificate checks (verify error, name mismatch)
// and failures after the handshake (SSL_read) come from handshakes that
// established on the wire.
func penalty(e Entry, h Handshake) int {
	p := 0
	expectsFailure := e.Handshake && e.Kind != KindVerifyError && e.Kind != KindNameMismatch
	if expectsFailure && !h.Failed {
		p++
	}
	if e.Kind == KindTimeout && h.Answered {
		p++
	}
	return p
}

func unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// Join joins entries to handshakes in one batch (a whole log and a whole
// capture); see Joiner for the rules.
func Join(entries []Entry, handshakes []Handshake, cfg JoinConfig) (matches []Match, unexplained []Entry, silent []Handshake, stats JoinStats) {
	j := NewJoiner(cfg)
	j.OnMatch = func(m Match) { matches = append(matches, m) }
	j.OnUnexplained = func(e Entry) { unexplained = append(unexplained, e) }
	j.OnSilent = func(h Handshake) { silent = append(silent, h) }
	for _, h := range handshakes {
		j.AddHandshake(h)
	}
	for _, e := range entries {
		j.AddEntry(e)
	}
	j.Close()
	return matches, unexplained, silent, j.Stats()
}

// Take joins h at once to the best line held now (nearest to its span,
// then a failed handshake for a failure line, then nearest its end, then
// file order), removes that line and returns it. It is for a caller that
// writes each handshake as it finishes: lines that arrive later can still
// be counted against handshakes given to AddHandshake.
func (j *Joiner) Take(h Handshake) (Match, bool) {
	h.Server = unmap(h.Server)
	if h.End.Before(h.Start) {
		h.End = h.Start
	}
	best := -1
	var bg time.Duration
	var bp int
	var bt time.Duration
	for i, e := range j.lines {
		if e.UpstreamAddr != h.Server {
			continue
		}
		g, ok := j.gap(e, h)
		if !ok {
			continue
		}
		p, te := penalty(e, h), absDur(e.Time.Sub(h.End))
		better := best < 0 || g < bg || g == bg && (p < bp || p == bp && (te < bt || te == bt && lineLess(e, j.lines[best])))
		if better {
			best, bg, bp, bt = i, g, p, te
		}
	}
	if best < 0 {
		return Match{}, false
	}
	e := j.lines[best]
	j.lines = slices.Delete(j.lines, best, best+1)
	j.stats.Matched++
	return Match{Entry: e, Handshake: h, Gap: bg}, true
}

// Latest is the last time a line about h can carry: its end, or for a
// handshake the server never answered, up to MaxTimeout after its hello
// (nginx logs "upstream timed out" when proxy_connect_timeout runs out).
func (j *Joiner) Latest(h Handshake) time.Time {
	if h.Answered {
		return h.End
	}
	return j.latest(h)
}

// Config returns the tolerances in use (defaults filled in).
func (j *Joiner) Config() JoinConfig { return j.cfg }

func lineLess(a, b Entry) bool {
	if a.File != b.File {
		return a.File < b.File
	}
	return a.Line < b.Line
}
