package report

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
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
	series := exportedSeries(t)
	closed := closedLabelValues()

	exprs := regexp.MustCompile(`(?s)expr: \|\n(.*?)\n\s*(?:for|labels):`).FindAllStringSubmatch(string(b), -1)
	if len(exprs) < 5 {
		t.Fatalf("found %d rule expressions in alerts.yml, want the 5+ rules", len(exprs))
	}
	for i, e := range exprs {
		checkPromQL(t, fmt.Sprintf("alerts.yml rule %d", i+1), e[1], series, closed)
	}
}
