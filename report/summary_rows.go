package report

import (
	"net/netip"
	"slices"
	"time"

	"github.com/hellowatch/hellowatch/diagnose"
	"github.com/hellowatch/hellowatch/handshake"
)

// RateWindow is the stretch of capture time over which ServerRow.Rate
// counts handshakes.
const RateWindow = rateSecs * time.Second

// Record is a finished handshake with its findings, as the Summary got it.
type Record struct {
	Handshake *handshake.Handshake
	Findings  []diagnose.Finding
}

// ServerRow is a copy of one (server, SNI) row of a Summary: the end
// summary's per-server table prints these, and a live view (hellowatch top)
// shows them, so both say the same numbers.
type ServerRow struct {
	Server netip.AddrPort
	HasSNI bool
	SNI    string // as sent (raw bytes, cut at 256): escape it before printing
	Other  bool   // the row gathering the servers beyond MaxSummaryServers

	Total uint64
	// Failed counts the failed handshakes as --failures prints them
	// (Failed), less the incomplete ones, whose end was not seen (the
	// capture ended, a cap evicted them): the handshakes refused, reset,
	// unanswered, and the established ones with an error finding (a client
	// that closed at once).
	Failed uint64
	// Outcomes and Findings count outcome words (in handshake.Outcomes order)
	// and finding IDs (most frequent first); only the ones seen.
	Outcomes []Count
	Findings []Count

	// Rate is handshakes per second: over the last RateWindow of capture
	// time before the clock given to Rows (over less, but at least a
	// second, when the capture is younger than that), or over the whole
	// capture when Rows is given no clock.
	Rate float64
	// Answered counts the handshakes whose answer time (ClientHello to the
	// server's first answer) is known; AnswerP50 and AnswerP95 are their
	// median and 95th percentile, within 10% (see answerHist).
	Answered             uint64
	AnswerP50, AnswerP95 time.Duration
	// LastEnd says how the latest failed handshake (as counted in Failed)
	// ended (EndText); "" when none failed.
	LastEnd string
	// Recent holds the latest failed handshakes (as counted in Failed),
	// newest first, when the
	// Summary keeps them (KeepFailed). The records are shared: do not
	// modify them.
	Recent []Record
}

// ServerText is the row's server column: ip:port, or "(other servers)".
func (r *ServerRow) ServerText() string {
	if r.Other {
		return "(other servers)"
	}
	return r.Server.String()
}

// SNIText is the row's SNI column, escaped and quoted: `"abc.example.com"`,
// "(no SNI)", or "-" for the other-servers row.
func (r *ServerRow) SNIText() string {
	switch {
	case r.Other:
		return "-"
	case r.HasSNI:
		return `"` + EscapeWire(r.SNI) + `"`
	}
	return "(no SNI)"
}

// String names the row as the summary's examples do: `1.2.3.4:443 "name"`.
func (r *ServerRow) String() string {
	return r.key().String()
}

func (r *ServerRow) key() serverKey {
	return serverKey{server: r.Server, sni: r.SNI, hasSNI: r.HasSNI, other: r.Other}
}

// Rows returns a copy of every (server, SNI) row, in no particular order.
// now is the clock for Rate, which then counts the handshakes of the last
// RateWindow before it: the current time when capturing live, the capture
// time reached when replaying a file at its pace. Zero gives each row's average over the
// whole capture, from the first record to the last (at least a second).
func (s *Summary) Rows(now time.Time) []ServerRow {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rowsLocked(now)
}

func (s *Summary) rowsLocked(now time.Time) []ServerRow {
	// The rate's divisor: the window, or the capture's age when it is
	// younger, but at least a second so that a burst does not read as
	// thousands per second; without a clock, the whole capture.
	span := min(max(now.Sub(s.first), time.Second), RateWindow)
	if now.IsZero() {
		span = max(s.last.Sub(s.first), time.Second)
	}
	out := make([]ServerRow, 0, len(s.rows))
	for _, r := range s.rows {
		row := ServerRow{
			Server: r.key.server, HasSNI: r.key.hasSNI, SNI: r.key.sni, Other: r.key.other,
			Total: r.total, Failed: r.failed, LastEnd: r.lastEnd,
			Findings: ranked(r.findings),
		}
		for _, o := range handshake.Outcomes() {
			if n := r.outcomes[o]; n > 0 {
				row.Outcomes = append(row.Outcomes, Count{o.String(), n})
			}
		}
		if now.IsZero() {
			row.Rate = float64(r.timed) / span.Seconds()
		} else {
			row.Rate = float64(r.rate.count(now)) / span.Seconds()
		}
		if a := r.answers; a != nil {
			row.Answered = a.n
			row.AnswerP50, row.AnswerP95 = a.quantile(0.50), a.quantile(0.95)
		}
		if len(r.recent) > 0 {
			// The ring holds the oldest at next once full: newest first is
			// backwards from next-1.
			row.Recent = make([]Record, 0, len(r.recent))
			for i := range len(r.recent) {
				row.Recent = append(row.Recent, r.recent[(r.next-1-i+2*len(r.recent))%len(r.recent)])
			}
		}
		out = append(out, row)
	}
	return out
}

// Failed reports whether a handshake counts as failed: not established, or
// established with an error finding (e.g. closed at once by the client).
// --failures, -w and --fail-on use it, and so does ServerRow.Failed (less
// the incomplete handshakes).
func Failed(h *handshake.Handshake, fs []diagnose.Finding) bool {
	if h.Outcome != handshake.OutcomeEstablished {
		return true
	}
	return slices.ContainsFunc(fs, func(f diagnose.Finding) bool { return f.Severity == diagnose.SeverityError })
}

// recordTime is when a record was decided (EndTime), else its ClientHello.
func recordTime(h *handshake.Handshake) time.Time {
	if !h.EndTime.IsZero() {
		return h.EndTime
	}
	return h.ClientHelloTime
}

// answerTime is the time from the ClientHello to the server's first answer
// (bytes, FIN or RST), when both were seen.
func answerTime(h *handshake.Handshake) (time.Duration, bool) {
	if h.FirstAnswerTime.IsZero() || h.ClientHelloTime.IsZero() {
		return 0, false
	}
	d := h.FirstAnswerTime.Sub(h.ClientHelloTime)
	return d, d >= 0
}
