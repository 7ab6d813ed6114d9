package report

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hellowatch/hellowatch/capture"
	"github.com/hellowatch/hellowatch/diagnose"
	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/tlsparse"
)

// The helpers below keep the PromQL that ships in deploy/ (alert rules,
// the Grafana dashboard) true to what hellowatch exports. They are not a
// PromQL parser: they find the hellowatch_* names, the label matchers of
// selectors and the labels of by/without clauses, which is what a rename
// breaks.

// targetLabels are the labels Prometheus (or a Kubernetes scrape config)
// adds to every series; an expression may match or keep them.
var targetLabels = []string{"instance", "job", "namespace", "pod", "node", "container"}

// exportedSeries returns the names PromQL can select from hellowatch's
// /metrics (a histogram's _bucket, _sum and _count) and their label names,
// from a registry that has seen every sample record and statistics with
// every kind of series.
func exportedSeries(t *testing.T) map[string][]string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg, "test")
	for _, s := range samples() {
		m.Observe(s.h, findings(s.h))
	}
	m.SetStatsFunc(func() Stats {
		return Stats{Evicted: map[string]uint64{"idle": 1}, Skipped: map[string]uint64{"fragment": 1}}
	})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := map[string][]string{}
	for _, mf := range mfs {
		names := []string{}
		for _, mt := range mf.GetMetric() {
			for _, lp := range mt.GetLabel() {
				if !slices.Contains(names, lp.GetName()) {
					names = append(names, lp.GetName())
				}
			}
		}
		if mf.GetType() == dto.MetricType_HISTOGRAM {
			series[mf.GetName()+"_bucket"] = append(slices.Clone(names), "le")
			series[mf.GetName()+"_sum"] = names
			series[mf.GetName()+"_count"] = names
			continue
		}
		series[mf.GetName()] = names
	}
	return series
}

// closedLabelValues are the label values hellowatch can export for the
// labels whose values come from a closed set.
func closedLabelValues() map[string][]string {
	var outcomes, reasons, descriptions []string
	for _, o := range handshake.Outcomes() {
		outcomes = append(outcomes, o.String())
	}
	for _, r := range capture.EvictReasons() {
		reasons = append(reasons, r.String())
	}
	for _, r := range capture.SkipReasons() {
		reasons = append(reasons, r.String())
	}
	reasons = append(reasons, "other")
	for _, d := range tlsparse.AlertDescriptions() {
		descriptions = append(descriptions, d.Name())
	}
	return map[string][]string{
		"finding":     diagnose.FindingIDs(),
		"outcome":     outcomes,
		"sni":         {"present", "absent"},
		"transport":   Transports,
		"version":     Versions,
		"sender":      {"client", "server", "unknown"},
		"level":       {"warning", "fatal", "other", "encrypted"},
		"description": append(descriptions, "encrypted", "other"),
		"reason":      reasons,
	}
}

var (
	metricRe   = regexp.MustCompile(`\bhellowatch_[a-z_]+`)
	selectorRe = regexp.MustCompile(`\b(hellowatch_[a-z_]+)\{([^}]*)\}`)
	matcherRe  = regexp.MustCompile(`(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	groupingRe = regexp.MustCompile(`\b(?:without|by)\s*\(([^)]*)\)`)
)

// checkPromQL reports (as errors naming where) every hellowatch_* name in
// expr that is not exported, every selector label the metric lacks, every
// value a closed-set label is compared with that is not in its set (values
// holding a Grafana variable, "$x", are left alone), every aggregation over
// a label none of the selected metrics has, and unbalanced brackets or
// quotes. It returns the metric names expr uses.
func checkPromQL(t *testing.T, where, expr string, series, closed map[string][]string) []string {
	t.Helper()
	if err := balanced(expr); err != "" {
		t.Errorf("%s: %s:\n%s", where, err, expr)
	}
	var used []string
	for _, name := range metricRe.FindAllString(expr, -1) {
		if _, ok := series[name]; !ok {
			t.Errorf("%s uses %s, which hellowatch does not export:\n%s", where, name, expr)
		}
		if !slices.Contains(used, name) {
			used = append(used, name)
		}
	}
	for _, sel := range selectorRe.FindAllStringSubmatch(expr, -1) {
		for _, mt := range matcherRe.FindAllStringSubmatch(sel[2], -1) {
			label, op, value := mt[1], mt[2], mt[3]
			if slices.Contains(targetLabels, label) {
				continue
			}
			if !slices.Contains(series[sel[1]], label) {
				t.Errorf("%s: %s has no label %q (it has %v)", where, sel[1], label, series[sel[1]])
				continue
			}
			set, ok := closed[label]
			if !ok || strings.Contains(value, "$") {
				continue
			}
			values := []string{value}
			if op == "=~" || op == "!~" {
				values = strings.Split(value, "|")
			}
			for _, v := range values {
				if !slices.Contains(set, v) {
					t.Errorf("%s: %s{%s%s%q}: %q is not a %s value (%v)", where, sel[1], label, op, value, v, label, set)
				}
			}
		}
	}
	for _, g := range groupingRe.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(g[1], ",") {
			l = strings.TrimSpace(l)
			if l == "" || slices.Contains(targetLabels, l) {
				continue
			}
			if !slices.ContainsFunc(used, func(name string) bool { return slices.Contains(series[name], l) }) {
				t.Errorf("%s: aggregation over %q, a label none of %v has:\n%s", where, l, used, expr)
			}
		}
	}
	return used
}

// balanced reports the first unbalanced (), [], {} or "" in expr, or "".
func balanced(expr string) string {
	var stack []byte
	pair := map[byte]byte{')': '(', ']': '[', '}': '{'}
	inQuote := false
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch {
		case inQuote:
			if c == '\\' {
				i++
			} else if c == '"' {
				inQuote = false
			}
		case c == '"':
			inQuote = true
		case c == '(' || c == '[' || c == '{':
			stack = append(stack, c)
		case c == ')' || c == ']' || c == '}':
			if len(stack) == 0 || stack[len(stack)-1] != pair[c] {
				return "unbalanced " + string(c)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if inQuote {
		return "unterminated string"
	}
	if len(stack) > 0 {
		return "unclosed " + string(stack[len(stack)-1])
	}
	return ""
}

func TestBalanced(t *testing.T) {
	for expr, want := range map[string]bool{
		`sum by (a) (rate(x{a="}"}[5m]))`: true,
		`sum(rate(x[5m])`:                 false,
		`x{a="b}`:                         false,
		`(x])`:                            false,
	} {
		if got := balanced(expr) == ""; got != want {
			t.Errorf("balanced(%q) = %v, want %v", expr, got, want)
		}
	}
}
