// Package metrics reads a running hellowatch's /metrics with the
// Prometheus text parser, for the tests of cmd/hellowatch and e2e. It is
// apart from testkit because it needs the Prometheus modules, which
// testkit's users (tlsparse) must not.
package metrics

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/hellowatch/hellowatch/internal/testkit"
)

// Get returns the status and body of url; it fails the test when the
// request fails.
func Get(t testing.TB, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// Scrape fetches base/metrics and parses it; it fails the test when the
// status is not 200 or the body does not parse.
func Scrape(t testing.TB, base string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := Get(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: status %d\n%s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	return mfs
}

// Value returns the sum over the series of family name whose labels
// include want (nil: all series), and whether any series matched. A
// histogram counts its samples.
func Value(mfs map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
	var sum float64
	found := false
	for _, m := range mf.GetMetric() {
		if !hasLabels(m, want) {
			continue
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Untyped != nil:
			sum += m.Untyped.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum, found
}

// hasLabels says whether m carries every label of want with its value.
func hasLabels(m *dto.Metric, want map[string]string) bool {
	for k, v := range want {
		has := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == k && lp.GetValue() == v {
				has = true
			}
		}
		if !has {
			return false
		}
	}
	return true
}

// Wait scrapes base/metrics until family name (summed over its series)
// reaches min or d has passed, and returns the last value.
func Wait(t testing.TB, base, name string, min float64, d time.Duration) float64 {
	t.Helper()
	var v float64
	testkit.Poll(d, func() bool {
		v, _ = Value(Scrape(t, base), name, nil)
		return v >= min
	})
	return v
}
