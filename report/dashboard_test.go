package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dashboardUID is the Grafana dashboard's uid: links and provisioning
// refer to it, so it must not change on export.
const dashboardUID = "hellowatch-tls"

type grafanaDashboard struct {
	Inputs []struct {
		Name, Type, PluginID string
	} `json:"__inputs"`
	UID        string         `json:"uid"`
	Title      string         `json:"title"`
	Panels     []grafanaPanel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
			DS    *grafanaDS      `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type grafanaDS struct{ Type, UID string }

type grafanaPanel struct {
	ID      int        `json:"id"`
	Type    string     `json:"type"`
	Title   string     `json:"title"`
	DS      *grafanaDS `json:"datasource"`
	GridPos struct{ X, Y, W, H int }
	Targets []struct {
		DS           *grafanaDS `json:"datasource"`
		RefID        string     `json:"refId"`
		Expr         string     `json:"expr"`
		LegendFormat string     `json:"legendFormat"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"` // a collapsed row's panels
}

// grafanaVars stands in for Grafana's interval variables so that the
// expression reads as Prometheus will get it.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h")

// TestGrafanaDashboard keeps deploy/grafana/hellowatch.json true to what
// hellowatch exports, as TestAlertRulesMatchMetrics does for the alert
// rules: every expression (panel targets and template variable queries)
// names only exported metrics, their labels and closed-set values; every
// legend names a label the expression keeps; the data source is the
// templated ${DS_PROMETHEUS} everywhere; the uid is stable; and the panels
// the issue asked for are there.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "deploy", "grafana", "hellowatch.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("hellowatch.json: %v", err)
	}
	if d.UID != dashboardUID {
		t.Errorf("uid %q, want the stable %q", d.UID, dashboardUID)
	}
	if !slices.ContainsFunc(d.Inputs, func(in struct{ Name, Type, PluginID string }) bool {
		return in.Name == "DS_PROMETHEUS" && in.Type == "datasource" && in.PluginID == "prometheus"
	}) {
		t.Errorf("__inputs does not declare the DS_PROMETHEUS Prometheus data source: %+v", d.Inputs)
	}
	checkDS := func(where string, ds *grafanaDS) {
		if ds == nil || ds.Type != "prometheus" || ds.UID != "${DS_PROMETHEUS}" {
			t.Errorf("%s: data source %+v, want prometheus ${DS_PROMETHEUS}", where, ds)
		}
	}

	series := exportedSeries(t)
	closed := closedLabelValues()
	var used []string
	ids := map[int]string{}
	var walk func([]grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
			if other, dup := ids[p.ID]; dup {
				t.Errorf("%s: id also used by %q", where, other)
			}
			ids[p.ID] = p.Title
			if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24 {
				t.Errorf("%s: gridPos %+v outside Grafana's 24 columns", where, p.GridPos)
			}
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			checkDS(where, p.DS)
			if len(p.Targets) == 0 {
				t.Errorf("%s: no query", where)
			}
			for _, tg := range p.Targets {
				where := where + " query " + tg.RefID
				checkDS(where, tg.DS)
				expr := grafanaVars.Replace(tg.Expr)
				if strings.TrimSpace(expr) == "" {
					t.Errorf("%s: empty expression", where)
					continue
				}
				names := checkPromQL(t, where, expr, series, closed)
				if len(names) == 0 {
					t.Errorf("%s: no hellowatch metric in %q", where, expr)
				}
				used = append(used, names...)
				checkLegend(t, where, tg.LegendFormat, expr, names, series)
			}
		}
	}
	walk(d.Panels)

	labelValuesRe := regexp.MustCompile(`^label_values\((.*),\s*(\w+)\)$`)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		where := "variable " + v.Name
		checkDS(where, v.DS)
		var q struct{ Query string }
		if err := json.Unmarshal(v.Query, &q); err != nil {
			if err := json.Unmarshal(v.Query, &q.Query); err != nil {
				t.Errorf("%s: query %s: %v", where, v.Query, err)
				continue
			}
		}
		m := labelValuesRe.FindStringSubmatch(q.Query)
		if m == nil {
			t.Errorf("%s: query %q is not label_values(selector, label)", where, q.Query)
			continue
		}
		names := checkPromQL(t, where, m[1], series, closed)
		if len(names) != 1 {
			t.Errorf("%s: %q selects %v, want one hellowatch metric", where, q.Query, names)
			continue
		}
		if l := m[2]; !slices.Contains(targetLabels, l) && !slices.Contains(series[names[0]], l) {
			t.Errorf("%s: %s has no label %q", where, names[0], l)
		}
	}

	// What the dashboard is for (issue 15): failures by outcome and finding,
	// alerts, answer-time quantiles, kernel drops, evictions, flows tracked.
	for _, want := range []string{
		"hellowatch_handshakes_total", "hellowatch_findings_total", "hellowatch_alerts_total",
		"hellowatch_answer_seconds_bucket", "hellowatch_kernel_dropped_packets_total",
		"hellowatch_flows_evicted_total", "hellowatch_flows_tracked",
	} {
		if !slices.Contains(used, want) {
			t.Errorf("no panel shows %s", want)
		}
	}
	if !strings.Contains(string(b), "histogram_quantile(") {
		t.Error("no answer-time quantile (histogram_quantile)")
	}
}

// checkLegend reports a legend's {{label}} that the expression's result
// cannot carry: when the expression aggregates with by (...), the label
// must be one of those; otherwise one of the metrics' labels or a target
// label.
func checkLegend(t *testing.T, where, legend, expr string, names []string, series map[string][]string) {
	t.Helper()
	var kept []string
	outer := groupingRe.FindAllStringSubmatch(expr, -1)
	byOnly := len(outer) > 0 && !strings.Contains(expr, "without")
	for _, g := range outer {
		for _, l := range strings.Split(g[1], ",") {
			kept = append(kept, strings.TrimSpace(l))
		}
	}
	for _, m := range regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`).FindAllStringSubmatch(legend, -1) {
		l := m[1]
		if byOnly {
			if !slices.Contains(kept, l) {
				t.Errorf("%s: legend %q names %q, which by (%v) drops", where, legend, l, kept)
			}
			continue
		}
		if !slices.Contains(targetLabels, l) && !slices.ContainsFunc(names, func(n string) bool { return slices.Contains(series[n], l) }) {
			t.Errorf("%s: legend %q names %q, a label none of %v has", where, legend, l, names)
		}
	}
}
