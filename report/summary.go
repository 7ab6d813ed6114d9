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
	outcomes [8]uint64
	findings map[string]uint64
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

type count struct {
	name string
	n    uint64
}

func ranked(m map[string]uint64) []count {
	out := make([]count, 0, len(m))
	for k, v := range m {
		out = append(out, count{k, v})
	}
	slices.SortFunc(out, func(a, b count) int {
		if c := cmp.Compare(b.n, a.n); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
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
			fmt.Fprintf(tw, "  %s\t%d\te.g. %s\n", c.name, c.n, s.example[c.name])
		}
		tw.Flush()
	}
	if len(s.rows) > 0 {
		rows := make([]*serverRow, 0, len(s.rows))
		for _, r := range s.rows {
			rows = append(rows, r)
		}
		slices.SortFunc(rows, func(a, b *serverRow) int {
			if c := cmp.Compare(b.total, a.total); c != 0 {
				return c
			}
			return strings.Compare(a.key.String(), b.key.String())
		})
		b.WriteString("\nper server (server, SNI):\n")
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  SERVER\tSNI\tTOTAL\tOUTCOMES\tFINDINGS\n")
		for i, r := range rows {
			if i == maxPrintedServers {
				fmt.Fprintf(tw, "  ... %d more\t\t\t\t\n", len(rows)-i)
				break
			}
			srv, sni := r.key.server.String(), "(no SNI)"
			if r.key.other {
				srv, sni = "(other servers)", "-"
			} else if r.key.hasSNI {
				sni = `"` + EscapeWire(r.key.sni) + `"`
			}
			var ocs []string
			for _, o := range handshake.Outcomes() {
				if n := r.outcomes[o]; n > 0 {
					ocs = append(ocs, o.String()+"="+strconv.FormatUint(n, 10))
				}
			}
			var fcs []string
			for _, c := range ranked(r.findings) {
				fcs = append(fcs, c.name+"="+strconv.FormatUint(c.n, 10))
			}
			fin := strings.Join(fcs, " ")
			if fin == "" {
				fin = "-"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\n", srv, sni, r.total, strings.Join(ocs, " "), fin)
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
		if c.n > 0 {
			parts = append(parts, EscapeWire(c.name)+" "+strconv.FormatUint(c.n, 10))
		}
	}
	if len(parts) > 0 {
		fmt.Fprintf(b, "  %s: %s\n", title, strings.Join(parts, ", "))
	}
}
