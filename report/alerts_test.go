package report

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hellowatch/hellowatch/diagnose"
	"github.com/hellowatch/hellowatch/handshake"
)

// TestAlertRulesMatchMetrics keeps deploy/prometheus/alerts.yml true to
// what hellowatch exports: every hellowatch_* name in a rule is a metric it
// serves, every label a selector or an aggregation names is one of that
// metric's labels (or a target label Prometheus adds), and every value a
// selector compares a closed-set label with is in that set. A renamed
// metric, label or finding would otherwise leave an alert that never fires.
func TestAlertRulesMatchMetrics(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "deploy", "prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	// The exported families and their label names, from a registry that
	// has seen every sample record and statistics with every kind of series.
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
	labels := map[string][]string{}
	for _, mf := range mfs {
		names := []string{}
		for _, mt := range mf.GetMetric() {
			for _, lp := range mt.GetLabel() {
				if !slices.Contains(names, lp.GetName()) {
					names = append(names, lp.GetName())
				}
			}
		}
		labels[mf.GetName()] = names
	}
	var outcomes []string
	for _, o := range handshake.Outcomes() {
		outcomes = append(outcomes, o.String())
	}
	closed := map[string][]string{
		"finding":   diagnose.FindingIDs(),
		"outcome":   outcomes,
		"sni":       {"present", "absent"},
		"transport": Transports,
		"version":   Versions,
		"sender":    {"client", "server"},
	}
	target := []string{"instance", "job", "namespace", "pod", "node", "container"}

	exprs := regexp.MustCompile(`(?s)expr: \|\n(.*?)\n\s*(?:for|labels):`).FindAllStringSubmatch(string(b), -1)
	if len(exprs) < 5 {
		t.Fatalf("found %d rule expressions in alerts.yml, want the 5+ rules", len(exprs))
	}
	metricRe := regexp.MustCompile(`\bhellowatch_[a-z_]+`)
	selectorRe := regexp.MustCompile(`\b(hellowatch_[a-z_]+)\{([^}]*)\}`)
	matcherRe := regexp.MustCompile(`(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	groupingRe := regexp.MustCompile(`\b(?:without|by)\s*\(([^)]*)\)`)
	for _, e := range exprs {
		expr := e[1]
		var used []string
		for _, name := range metricRe.FindAllString(expr, -1) {
			if _, ok := labels[name]; !ok {
				t.Errorf("alerts.yml uses %s, which hellowatch does not export:\n%s", name, expr)
			}
			used = append(used, name)
		}
		for _, sel := range selectorRe.FindAllStringSubmatch(expr, -1) {
			for _, mt := range matcherRe.FindAllStringSubmatch(sel[2], -1) {
				label, op, value := mt[1], mt[2], mt[3]
				if !slices.Contains(labels[sel[1]], label) {
					t.Errorf("%s has no label %q (it has %v)", sel[1], label, labels[sel[1]])
					continue
				}
				set, ok := closed[label]
				if !ok {
					continue
				}
				values := []string{value}
				if op == "=~" || op == "!~" {
					values = strings.Split(value, "|")
				}
				for _, v := range values {
					if !slices.Contains(set, v) {
						t.Errorf("%s{%s%s%q}: %q is not a %s value (%v)", sel[1], label, op, value, v, label, set)
					}
				}
			}
		}
		for _, g := range groupingRe.FindAllStringSubmatch(expr, -1) {
			for _, l := range strings.Split(g[1], ",") {
				l = strings.TrimSpace(l)
				if l == "" || slices.Contains(target, l) {
					continue
				}
				if !slices.ContainsFunc(used, func(name string) bool { return slices.Contains(labels[name], l) }) {
					t.Errorf("aggregation over %q, a label none of %v has:\n%s", l, used, expr)
				}
			}
		}
	}
}
