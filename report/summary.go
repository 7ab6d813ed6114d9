package report

import (
	"cmp"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/hellowatch/hellowatch/diagnose"
	"github.com/hellowatch/hellowatch/handshake"
)

// Stats are the capture statistics printed in the summary and exported as
// metrics. The maps are keyed by reason words chosen by capture.
type Stats struct {
	Packets, Bytes        uint64
	TLSFlows, NonTLSFlows uint64
	Skipped               map[string]uint64 // packets skipped, by reason
	Evicted               map[string]uint64 // flows evicted, by reason
	KernelReceived        uint64
	KernelDropped         uint64
	Duration              time.Duration
	// FlowsTracked and BufferedBytes are gauges: flows in the table and
	// bytes held by TCP reassembly now.
	FlowsTracked  uint64
	BufferedBytes uint64
	// QUICUndecryptable counts UDP packets that looked like QUIC Initial
	// packets but did not authenticate or were malformed.
	QUICUndecryptable uint64
	// Ambiguous counts retransmitted TCP bytes that disagreed with the
	// bytes first seen (an evasion attempt or a broken middlebox).
	Ambiguous uint64
	// Nginx holds the error-log join's counts; nil without
	// --nginx-error-log.
	Nginx *NginxStats
}

// MaxSummaryServers bounds the per-server table of a Summary; handshakes to
// further servers are counted under one "other" row.
const MaxSummaryServers = 10000

// maxSNIKey caps the SNI kept per row (a DNS name is at most 253 bytes).
const maxSNIKey = 256

type serverKey struct {
	server netip.AddrPort
	sni    string
	hasSNI bool
	other  bool
}

type serverRow struct {
	key      serverKey
	total    uint64
	failed   uint64
	outcomes [8]uint64
	findings map[string]uint64
	rate     rateWindow
	timed    uint64      // handshakes with a record time (the rate counts them)
	answers  *answerHist // nil until an answer was timed
	lastEnd  string      // EndText of the latest failed handshake
	recent   []Record    // the latest failed handshakes (KeepFailed), a ring
	next     int         // where recent's next record goes once it is full
}

// Summary aggregates handshakes for the end-of-run report. Its memory is
// bounded by MaxSummaryServers rows. A Summary is safe for concurrent use.
type Summary struct {
	mu       sync.Mutex
	rows     map[serverKey]*serverRow
	total    uint64
	quic     uint64 // handshakes over QUIC (the rest are over TCP)
	outcomes [8]uint64
	findings map[string]uint64
	example  map[string]serverKey // first server seen per finding
	maxRows  int
	keep     int       // failed records kept per row (KeepFailed)
	first    time.Time // earliest record time seen
	last     time.Time // latest record time seen
}

// NewSummary returns an empty Summary.
func NewSummary() *Summary {
	return &Summary{
		rows:     make(map[serverKey]*serverRow),
		findings: make(map[string]uint64),
		example:  make(map[string]serverKey),
		maxRows:  MaxSummaryServers,
	}
}

// KeepFailed makes the Summary keep the n latest failed handshakes of each
// (server, SNI) row with their findings, for a view that shows them (Rows'
// Recent); 0, the default, keeps none. Call it before the first Add. The
// records are held, not copied: at most n per row and MaxSummaryServers
// rows.
func (s *Summary) KeepFailed(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keep = max(n, 0)
}

// Add counts one handshake and its findings.
func (s *Summary) Add(h *handshake.Handshake, fs []diagnose.Finding) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := serverKey{server: h.Server, hasSNI: h.HasSNI}
	if h.HasSNI {
		k.sni = h.ServerName
		if len(k.sni) > maxSNIKey {
			k.sni = k.sni[:maxSNIKey]
		}
	}
	r := s.rows[k]
	if r == nil {
		if len(s.rows) >= s.maxRows {
			k = serverKey{other: true}
			r = s.rows[k]
		}
		if r == nil {
			k.sni = strings.Clone(k.sni) // do not pin the record's memory
			r = &serverRow{key: k}
			s.rows[k] = r
		}
	}
	o := int(h.Outcome)
	if o >= len(s.outcomes) {
		o = int(handshake.OutcomeIncomplete)
	}
	s.total++
	if h.Transport == handshake.TransportQUIC {
		s.quic++
	}
	s.outcomes[o]++
	r.total++
	r.outcomes[o]++
	if t := recordTime(h); !t.IsZero() {
		if s.first.IsZero() || t.Before(s.first) {
			s.first = t
		}
		if t.After(s.last) {
			s.last = t
		}
		r.rate.add(t)
		r.timed++
	}
	if d, ok := answerTime(h); ok {
		if r.answers == nil {
			r.answers = new(answerHist)
		}
		r.answers.add(d)
	}
	if h.Outcome != handshake.OutcomeIncomplete && Failed(h, fs) {
		r.failed++
		r.lastEnd = EndText(h)
		if s.keep > 0 {
			rec := Record{Handshake: h, Findings: fs}
			if len(r.recent) < s.keep {
				r.recent = append(r.recent, rec)
			} else {
				r.recent[r.next] = rec
				r.next = (r.next + 1) % len(r.recent)
			}
		}
	}
	for i := range fs {
		id := fs[i].ID
		s.findings[id]++
		if _, ok := s.example[id]; !ok {
			s.example[id] = r.key
		}
		if r.findings == nil {
			r.findings = make(map[string]uint64)
		}
		r.findings[id]++
	}
}

func (k serverKey) String() string {
	if k.other {
		return "(other servers)"
	}
	name := "(no SNI)"
	if k.hasSNI {
		name = `"` + EscapeWire(k.sni) + `"`
	}
	return k.server.String() + " " + name
}

// Count is a word (an outcome, a finding ID) and how often it was seen.
type Count struct {
	Name string
	N    uint64
}

// ranked returns m's entries, most frequent first, then by name.
func ranked(m map[string]uint64) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		out = append(out, Count{k, v})
	}
	slices.SortFunc(out, func(a, b Count) int {
		if c := cmp.Compare(b.N, a.N); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// maxPrintedServers bounds the per-server rows printed.
const maxPrintedServers = 50

// Write prints the summary and the capture statistics st to w.
func (s *Summary) Write(w io.Writer, st Stats) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	failed := s.total - s.outcomes[handshake.OutcomeEstablished] - s.outcomes[handshake.OutcomeIncomplete]
	fmt.Fprintf(&b, "== hellowatch summary: %d handshakes, %d established, %d failed, %d incomplete\n",
		s.total, s.outcomes[handshake.OutcomeEstablished], failed, s.outcomes[handshake.OutcomeIncomplete])
	var oc []string
	for _, o := range handshake.Outcomes() {
		if n := s.outcomes[o]; n > 0 {
			oc = append(oc, o.String()+" "+strconv.FormatUint(n, 10))
		}
	}
	if len(oc) > 0 {
		fmt.Fprintf(&b, "outcomes: %s\n", strings.Join(oc, ", "))
	}
	if s.quic > 0 {
		// Printed only when QUIC was seen, so TCP-only summaries read as before.
		fmt.Fprintf(&b, "transports: tcp %d, quic %d\n", s.total-s.quic, s.quic)
	}
	if len(s.findings) > 0 {
		b.WriteString("\nfindings (most frequent first):\n")
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		for _, c := range ranked(s.findings) {
			fmt.Fprintf(tw, "  %s\t%d\te.g. %s\n", c.Name, c.N, s.example[c.Name])
		}
		tw.Flush()
	}
	if len(s.rows) > 0 {
		rows := s.rowsLocked(time.Time{})
		slices.SortFunc(rows, func(a, b ServerRow) int {
			if c := cmp.Compare(b.Total, a.Total); c != 0 {
				return c
			}
			return strings.Compare(a.String(), b.String())
		})
		b.WriteString("\nper server (server, SNI):\n")
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  SERVER\tSNI\tTOTAL\tOUTCOMES\tFINDINGS\n")
		for i, r := range rows {
			if i == maxPrintedServers {
				fmt.Fprintf(tw, "  ... %d more\t\t\t\t\n", len(rows)-i)
				break
			}
			var ocs []string
			for _, c := range r.Outcomes {
				ocs = append(ocs, c.Name+"="+strconv.FormatUint(c.N, 10))
			}
			var fcs []string
			for _, c := range r.Findings {
				fcs = append(fcs, c.Name+"="+strconv.FormatUint(c.N, 10))
			}
			fin := strings.Join(fcs, " ")
			if fin == "" {
				fin = "-"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\n", r.ServerText(), r.SNIText(), r.Total, strings.Join(ocs, " "), fin)
		}
		tw.Flush()
	}
	b.WriteString("\ncapture:\n")
	fmt.Fprintf(&b, "  packets %d, bytes %d, TLS flows %d, non-TLS flows %d", st.Packets, st.Bytes, st.TLSFlows, st.NonTLSFlows)
	if st.Duration > 0 {
		fmt.Fprintf(&b, ", duration %s (%.0f packets/s)", st.Duration.Round(time.Millisecond), float64(st.Packets)/st.Duration.Seconds())
	}
	b.WriteString("\n")
	if st.KernelReceived > 0 || st.KernelDropped > 0 {
		pct := 0.0
		if st.KernelReceived > 0 {
			pct = 100 * float64(st.KernelDropped) / float64(st.KernelReceived)
		}
		fmt.Fprintf(&b, "  kernel: received %d, dropped %d (%.2f%%)\n", st.KernelReceived, st.KernelDropped, pct)
	}
	if st.QUICUndecryptable > 0 {
		fmt.Fprintf(&b, "  QUIC: %d undecryptable Initial packets\n", st.QUICUndecryptable)
	}
	if st.Ambiguous > 0 {
		fmt.Fprintf(&b, "  ambiguous retransmissions: %d (retransmitted bytes differed; the first copy was kept)\n", st.Ambiguous)
	}
	if n := st.Nginx; n != nil {
		fmt.Fprintf(&b, "\nnginx error log:\n  upstream TLS lines %d, joined to a handshake %d, explained by no captured handshake %d (other lines %d)\n  failed handshakes without a log line: %d\n",
			n.Lines, n.Joined, n.Unexplained, n.Skipped, n.Silent)
	}
	writeReasons(&b, "skipped packets", st.Skipped)
	writeReasons(&b, "evicted flows", st.Evicted)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("report: write summary: %w", err)
	}
	return nil
}

func writeReasons(b *strings.Builder, title string, m map[string]uint64) {
	var parts []string
	for _, c := range ranked(m) {
		if c.N > 0 {
			parts = append(parts, EscapeWire(c.Name)+" "+strconv.FormatUint(c.N, 10))
		}
	}
	if len(parts) > 0 {
		fmt.Fprintf(b, "  %s: %s\n", title, strings.Join(parts, ", "))
	}
}
