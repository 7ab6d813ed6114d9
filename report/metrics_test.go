package report

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hellowatch/hellowatch/diagnose"
	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/tlsparse"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetricsObserve(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg, "v0.1.0")
	for _, s := range samples() {
		m.Observe(s.h, findings(s.h))
	}
	tests := []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"server_alert_none_absent", m.handshakes.WithLabelValues("server_alert", "none", "absent", "tcp"), 1},
		{"established_tls13_present", m.handshakes.WithLabelValues("established", "TLS 1.3", "present", "tcp"), 1},
		{"client_alert_tls12", m.handshakes.WithLabelValues("client_alert", "TLS 1.2", "present", "tcp"), 1},
		{"quic_server_alert_none_absent", m.handshakes.WithLabelValues("server_alert", "none", "absent", "quic"), 1},
		{"finding_missing_sni", m.findings.WithLabelValues("missing_sni"), 3},
		{"finding_no_response", m.findings.WithLabelValues("no_response"), 1},
		{"finding_never_seen_is_zero", m.findings.WithLabelValues("sni_is_ip"), 0},
		{"alert_server_40", m.alerts.WithLabelValues("server", "fatal", "handshake_failure"), 1},
		{"alert_client_45", m.alerts.WithLabelValues("client", "fatal", "certificate_expired"), 1},
		{"alert_encrypted", m.alerts.WithLabelValues("client", "encrypted", "encrypted"), 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := testutil.ToFloat64(tc.c); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if n, err := testutil.GatherAndCount(reg, "hellowatch_findings_total"); err != nil || n != len(diagnose.FindingIDs()) {
		t.Errorf("findings series = %d (%v), want the closed set of %d", n, err, len(diagnose.FindingIDs()))
	}
}

func TestMetricsLabelsClosed(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg, "dev")
	h := &handshake.Handshake{Version: 0x0399, HasSNI: true, ServerName: "secret.example",
		Alerts: []handshake.AlertRecord{{Sender: handshake.SideServer, Level: tlsparse.AlertLevel(7), Description: 250}}}
	m.Observe(h, nil)
	if got := testutil.ToFloat64(m.handshakes.WithLabelValues("incomplete", "unknown", "present", "tcp")); got != 1 {
		t.Errorf("unknown version not folded: %v", got)
	}
	if got := testutil.ToFloat64(m.alerts.WithLabelValues("server", "other", "other")); got != 1 {
		t.Errorf("unknown alert not folded: %v", got)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			for _, lp := range mt.GetLabel() {
				if strings.Contains(lp.GetValue(), "secret") || strings.Contains(lp.GetValue(), "9.9") {
					t.Errorf("wire value leaked into label %s=%q", lp.GetName(), lp.GetValue())
				}
			}
		}
	}
}

func TestMetricsStats(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg, "dev")
	m.SetStatsFunc(func() Stats {
		return Stats{Packets: 10, Bytes: 2000, KernelReceived: 12, KernelDropped: 2, FlowsTracked: 3, BufferedBytes: 512, QUICUndecryptable: 7, Ambiguous: 2,
			Skipped: map[string]uint64{"not_tcp": 4, "Bad Reason!": 1}, Evicted: map[string]uint64{"table_full": 5}}
	})
	want := `
# HELP hellowatch_packets_total Packets read from the capture source.
# TYPE hellowatch_packets_total counter
hellowatch_packets_total 10
# HELP hellowatch_kernel_dropped_packets_total Packets the kernel dropped for lack of buffer space (pcap stats).
# TYPE hellowatch_kernel_dropped_packets_total counter
hellowatch_kernel_dropped_packets_total 2
# HELP hellowatch_flows_tracked Flows in the flow table now.
# TYPE hellowatch_flows_tracked gauge
hellowatch_flows_tracked 3
# HELP hellowatch_packets_skipped_total Packets not analysed, by reason.
# TYPE hellowatch_packets_skipped_total counter
hellowatch_packets_skipped_total{reason="not_tcp"} 4
hellowatch_packets_skipped_total{reason="other"} 1
# HELP hellowatch_flows_evicted_total Flows evicted from the table before their outcome was known, by reason.
# TYPE hellowatch_flows_evicted_total counter
hellowatch_flows_evicted_total{reason="table_full"} 5
# HELP hellowatch_reassembly_buffered_bytes Bytes counted against --max-buffer now: the state of the handshakes in progress and what they hold for reassembly (out-of-order TCP segments, handshake messages not yet whole, QUIC CRYPTO streams).
# TYPE hellowatch_reassembly_buffered_bytes gauge
hellowatch_reassembly_buffered_bytes 512
# HELP hellowatch_quic_undecryptable_packets_total UDP packets that looked like QUIC Initial packets but did not authenticate or were malformed.
# TYPE hellowatch_quic_undecryptable_packets_total counter
hellowatch_quic_undecryptable_packets_total 7
# HELP hellowatch_ambiguous_retransmissions_total TCP retransmissions whose bytes differed from the bytes first seen (the first copy is kept).
# TYPE hellowatch_ambiguous_retransmissions_total counter
hellowatch_ambiguous_retransmissions_total 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"hellowatch_packets_total", "hellowatch_kernel_dropped_packets_total", "hellowatch_flows_tracked",
		"hellowatch_packets_skipped_total", "hellowatch_flows_evicted_total", "hellowatch_reassembly_buffered_bytes",
		"hellowatch_quic_undecryptable_packets_total", "hellowatch_ambiguous_retransmissions_total"); err != nil {
		t.Error(err)
	}
	if n, _ := testutil.GatherAndCount(reg, "hellowatch_build_info"); n != 1 {
		t.Errorf("build_info series = %d", n)
	}
}

func TestMetricsLint(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg, "dev")
	for _, s := range samples() {
		m.Observe(s.h, findings(s.h))
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
}

func TestHandler(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	NewMetrics(reg, "dev")
	ready := false
	srv := httptest.NewServer(Handler(reg, func() bool { return ready }))
	defer srv.Close()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		name, path string
		ready      bool
		code       int
		body       string
	}{
		{"healthz", "/healthz", false, 200, "ok"},
		{"readyz_not_ready", "/readyz", false, 503, "not ready"},
		{"readyz_ready", "/readyz", true, 200, "ready"},
		{"metrics", "/metrics", true, 200, "hellowatch_build_info{goversion="},
		{"unknown", "/nope", true, 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ready = tc.ready
			code, body := get(tc.path)
			if code != tc.code || !strings.Contains(body, tc.body) {
				t.Errorf("GET %s = %d %q, want %d containing %q", tc.path, code, body, tc.code, tc.body)
			}
		})
	}
}

func BenchmarkMetricsObserve(b *testing.B) {
	m := NewMetrics(prometheus.NewRegistry(), "dev")
	s := samples()[0]
	fs := findings(s.h)
	b.ReportAllocs()
	for b.Loop() {
		m.Observe(s.h, fs)
	}
}

func TestMetricsTransportLabel(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg, "dev")
	m.Observe(&handshake.Handshake{Transport: handshake.TransportQUIC, Outcome: handshake.OutcomeServerAlert}, nil)
	m.Observe(&handshake.Handshake{Transport: handshake.Transport(99), Outcome: handshake.OutcomeServerAlert}, nil)
	if got := testutil.ToFloat64(m.handshakes.WithLabelValues("server_alert", "none", "absent", "quic")); got != 1 {
		t.Errorf("quic handshakes = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.handshakes.WithLabelValues("server_alert", "none", "absent", "tcp")); got != 1 {
		t.Errorf("an unknown transport is not folded into tcp: %v", got)
	}
}
