package report

import (
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hellowatch/hellowatch/diagnose"
	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/tlsparse"
)

// Namespace prefixes every metric name.
const Namespace = "hellowatch"

// Metrics exports handshakes, findings, alerts and capture statistics to
// Prometheus. Every label value comes from a closed set: never a host
// name, an address or a fingerprint, so cardinality stays bounded.
type Metrics struct {
	handshakes *prometheus.CounterVec
	findings   *prometheus.CounterVec
	alerts     *prometheus.CounterVec
	answer     prometheus.Histogram
	stats      atomic.Pointer[func() Stats]
}

// Transports is the closed set of the handshake metric's transport label.
var Transports = []string{"tcp", "quic"}

// transportLabel maps a record's transport to the closed label set.
func transportLabel(t handshake.Transport) string {
	if t == handshake.TransportQUIC {
		return "quic"
	}
	return "tcp"
}

// Versions is the closed set of the handshake metric's version label.
var Versions = []string{"SSL 3.0", "TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3", "unknown", "none"}

// NewMetrics registers hellowatch's metrics with reg and returns them.
// version is the build's version for hellowatch_build_info. It panics if a
// metric is already registered (as prometheus.MustRegister does).
func NewMetrics(reg prometheus.Registerer, version string) *Metrics {
	m := &Metrics{
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "handshakes_total",
			Help: "TLS handshakes seen, by outcome, negotiated version, whether the ClientHello had SNI, and transport (tcp or quic).",
		}, []string{"outcome", "version", "sni", "transport"}),
		findings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "findings_total",
			Help: "Diagnosed findings, by finding ID.",
		}, []string{"finding"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "alerts_total",
			Help: "TLS alerts seen, by sender, level and description (encrypted alerts have level and description \"encrypted\").",
		}, []string{"sender", "level", "description"}),
		answer: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "answer_seconds",
			Help:    "Time from the ClientHello to the server's first answer (bytes, FIN or RST).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
	}
	for _, id := range diagnose.FindingIDs() {
		m.findings.WithLabelValues(id)
	}
	bi := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "build_info",
		Help:        "Build information; the value is always 1.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	bi.Set(1)
	reg.MustRegister(m.handshakes, m.findings, m.alerts, m.answer, bi, &statsCollector{m: m})
	return m
}

// SetStatsFunc sets the function read at scrape time for the capture
// statistics (packets, bytes, kernel drops, flows, skips, evictions). f must
// be safe to call from any goroutine. Until it is set those metrics are 0.
func (m *Metrics) SetStatsFunc(f func() Stats) {
	m.stats.Store(&f)
}

// versionLabel maps a negotiated version to the closed label set.
func versionLabel(v tlsparse.Version) string {
	switch v {
	case 0:
		return "none"
	case tlsparse.VersionSSL30, tlsparse.VersionTLS10, tlsparse.VersionTLS11, tlsparse.VersionTLS12, tlsparse.VersionTLS13:
		return v.String()
	}
	return "unknown"
}

var alertDescLabels = func() map[string]bool {
	m := make(map[string]bool)
	for _, d := range tlsparse.AlertDescriptions() {
		m[d.Name()] = true
	}
	return m
}()

// Observe counts one handshake and its findings.
func (m *Metrics) Observe(h *handshake.Handshake, fs []diagnose.Finding) {
	sni := "absent"
	if h.HasSNI {
		sni = "present"
	}
	m.handshakes.WithLabelValues(h.Outcome.String(), versionLabel(h.Version), sni, transportLabel(h.Transport)).Inc()
	for i := range fs {
		m.findings.WithLabelValues(fs[i].ID).Inc()
	}
	for i := range h.Alerts {
		a := &h.Alerts[i]
		sender := a.Sender.String()
		if sender == "" {
			sender = "unknown"
		}
		level, desc := "encrypted", "encrypted"
		if !a.Encrypted {
			level = "other"
			if a.Level == tlsparse.AlertLevelWarning || a.Level == tlsparse.AlertLevelFatal {
				level = a.Level.String()
			}
			desc = a.Description.Name()
			if !alertDescLabels[desc] {
				desc = "other"
			}
		}
		m.alerts.WithLabelValues(sender, level, desc).Inc()
	}
	if d, ok := answerTime(h); ok {
		m.answer.Observe(d.Seconds())
	}
}

// statsCollector reads the stats function at scrape time.
type statsCollector struct{ m *Metrics }

var (
	descPackets  = prometheus.NewDesc(Namespace+"_packets_total", "Packets read from the capture source.", nil, nil)
	descBytes    = prometheus.NewDesc(Namespace+"_bytes_total", "Bytes of packets read from the capture source.", nil, nil)
	descKRecv    = prometheus.NewDesc(Namespace+"_kernel_received_packets_total", "Packets the kernel delivered to the capture (pcap stats).", nil, nil)
	descKDrop    = prometheus.NewDesc(Namespace+"_kernel_dropped_packets_total", "Packets the kernel dropped for lack of buffer space (pcap stats).", nil, nil)
	descTracked  = prometheus.NewDesc(Namespace+"_flows_tracked", "Flows in the flow table now.", nil, nil)
	descEvicted  = prometheus.NewDesc(Namespace+"_flows_evicted_total", "Flows evicted from the table before their outcome was known, by reason.", []string{"reason"}, nil)
	descSkipped  = prometheus.NewDesc(Namespace+"_packets_skipped_total", "Packets not analysed, by reason.", []string{"reason"}, nil)
	descBuffered = prometheus.NewDesc(Namespace+"_reassembly_buffered_bytes", "Bytes counted against --max-buffer now: the state of the handshakes in progress and what they hold for reassembly (out-of-order TCP segments, handshake messages not yet whole, QUIC CRYPTO streams).", nil, nil)
	descAmbig    = prometheus.NewDesc(Namespace+"_ambiguous_retransmissions_total", "TCP retransmissions whose bytes differed from the bytes first seen (the first copy is kept).", nil, nil)
	descQUICBad  = prometheus.NewDesc(Namespace+"_quic_undecryptable_packets_total", "UDP packets that looked like QUIC Initial packets but did not authenticate or were malformed.", nil, nil)
)

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPackets, descBytes, descKRecv, descKDrop, descTracked, descEvicted, descSkipped, descBuffered, descQUICBad, descAmbig} {
		ch <- d
	}
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	var st Stats
	if f := c.m.stats.Load(); f != nil {
		st = (*f)()
	}
	ch <- prometheus.MustNewConstMetric(descPackets, prometheus.CounterValue, float64(st.Packets))
	ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(st.Bytes))
	ch <- prometheus.MustNewConstMetric(descKRecv, prometheus.CounterValue, float64(st.KernelReceived))
	ch <- prometheus.MustNewConstMetric(descKDrop, prometheus.CounterValue, float64(st.KernelDropped))
	ch <- prometheus.MustNewConstMetric(descTracked, prometheus.GaugeValue, float64(st.FlowsTracked))
	ch <- prometheus.MustNewConstMetric(descBuffered, prometheus.GaugeValue, float64(st.BufferedBytes))
	ch <- prometheus.MustNewConstMetric(descQUICBad, prometheus.CounterValue, float64(st.QUICUndecryptable))
	ch <- prometheus.MustNewConstMetric(descAmbig, prometheus.CounterValue, float64(st.Ambiguous))
	for r, n := range reasonLabels(st.Evicted) {
		ch <- prometheus.MustNewConstMetric(descEvicted, prometheus.CounterValue, float64(n), r)
	}
	for r, n := range reasonLabels(st.Skipped) {
		ch <- prometheus.MustNewConstMetric(descSkipped, prometheus.CounterValue, float64(n), r)
	}
}

// maxReasons bounds the reason label set, in case capture's set grows.
const maxReasons = 32

// reasonLabels folds reason words into a bounded set of safe label values:
// anything that is not a short [a-z0-9_] word, and anything beyond
// maxReasons words, is counted as "other".
func reasonLabels(m map[string]uint64) map[string]uint64 {
	out := make(map[string]uint64, len(m))
	for r, n := range m {
		if !isReasonWord(r) || (len(out) >= maxReasons && out[r] == 0) {
			r = "other"
		}
		out[r] += n
	}
	return out
}

func isReasonWord(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_')
	}) < 0
}

// Handler serves /metrics from reg, /healthz (always 200 "ok") and /readyz
// (200 "ready" when ready() reports true, else 503). A nil ready counts as
// ready.
func Handler(reg prometheus.Gatherer, ready func() bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if ready != nil && !ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}
