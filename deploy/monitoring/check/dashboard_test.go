package check

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// dashboardQueries returns every PromQL query of dashboard.json: the panels' targets and
// the variables' label_values(QUERY, LABEL), keyed by where they are.
func dashboardQueries(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr  string `json:"expr"`
				RefID string `json:"refId"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	q := map[string]string{}
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q: no query", p.Title)
		}
		for _, tg := range p.Targets {
			q["panel "+p.Title+" "+tg.RefID] = tg.Expr
		}
	}
	labelValues := regexp.MustCompile(`^label_values\((.+), *([a-zA-Z_]\w*)\)$`)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var query struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &query); err != nil {
			t.Fatalf("variable %s: %v", v.Name, err)
		}
		m := labelValues.FindStringSubmatch(query.Query)
		if m == nil {
			t.Errorf("variable %s: %q, want label_values(QUERY, LABEL)", v.Name, query.Query)
			continue
		}
		q["variable "+v.Name] = m[1]
		q["variable "+v.Name+" label"] = m[2]
	}
	return q
}

// grafanaVariables are Grafana's variables as a query may use them, and what stands in
// for them when the query is parsed: a range, or a regular expression in a matcher.
var grafanaVariables = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h",
	"$namespace", ".*", "$pod", ".*")

// exported returns the plugin's metric names and label names the recordings of real
// runs hold (committed and, when K8S_EVENT_RECORDINGS is set, fresh), and the labels a
// scrape adds.
func exported(t *testing.T) (metrics, labelNames map[string]bool) {
	t.Helper()
	metrics, names := map[string]bool{}, map[string]bool{}
	dirs := []string{filepath.Join(dir, "recordings")}
	if fresh := os.Getenv("K8S_EVENT_RECORDINGS"); fresh != "" {
		dirs = append(dirs, fresh)
	}
	for _, d := range dirs {
		files, err := filepath.Glob(filepath.Join(d, "*.yaml"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no recordings in %s (%v)", d, err)
		}
		for _, f := range files {
			r, err := ReadRecording(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range r.Series {
				m, err := promql.ParseMetric(s.Name)
				if err != nil {
					t.Fatalf("%s: series %s: %v", f, s.Name, err)
				}
				m.Range(func(l labels.Label) {
					if l.Name == "__name__" {
						metrics[l.Value] = true
					} else {
						names[l.Name] = true
					}
				})
			}
		}
	}
	cases := readCases(t)
	for k := range cases.TargetLabels {
		names[k] = true
	}
	if len(cases.Jobs) > 0 {
		names["job"] = true
	}
	// cluster: the label that tells clusters apart where one Prometheus (or Thanos) holds
	// several; the dashboard's cluster variable is empty where there is none, and
	// cluster="" then selects the series without it.
	names["cluster"] = true
	return metrics, names
}

// TestDashboardQueries: every query of dashboard.json parses as PromQL and names only
// metrics and labels that CoreDNS with the plugin exported in the recorded runs (and
// the labels a scrape adds).
func TestDashboardQueries(t *testing.T) {
	metrics, labels := exported(t)
	queries := dashboardQueries(t)
	if len(queries) == 0 {
		t.Fatal("no queries")
	}
	for where, q := range queries {
		if strings.HasSuffix(where, " label") {
			if !labels[q] {
				t.Errorf("%s: label %q is not exported (labels: %v)", where, q, sortedKeys(labels))
			}
			continue
		}
		expr, err := promql.ParseExpr(grafanaVariables.Replace(q))
		if err != nil {
			t.Errorf("%s: %q does not parse: %v", where, q, err)
			continue
		}
		named := 0
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			switch n := n.(type) {
			case *parser.VectorSelector:
				named++
				if !metrics[n.Name] {
					t.Errorf("%s: metric %q is not exported (metrics: %v)", where, n.Name, sortedKeys(metrics))
				}
				for _, m := range n.LabelMatchers {
					if m.Name != "__name__" && !labels[m.Name] {
						t.Errorf("%s: label %q is not exported", where, m.Name)
					}
				}
			case *parser.AggregateExpr:
				for _, l := range n.Grouping {
					if !labels[l] {
						t.Errorf("%s: grouping label %q is not exported", where, l)
					}
				}
			}
			return nil
		})
		if named == 0 {
			t.Errorf("%s: %q names no metric", where, q)
		}
	}
}

// TestDashboardCountsEachPodOnce: every panel's query takes each Pod's series once however
// many jobs scrape it (the stack's coredns ServiceMonitor and a PodMonitor both): each
// rate or increase is the argument of a max by (namespace, pod, ...) that keeps neither
// job nor instance; and every series is of the cluster the cluster variable names.
func TestDashboardCountsEachPodOnce(t *testing.T) {
	queries := dashboardQueries(t)
	if queries["variable cluster label"] != "cluster" {
		t.Errorf("no variable cluster of label_values(QUERY, cluster)")
	}
	for where, q := range queries {
		if strings.HasSuffix(where, " label") || where == "variable cluster" {
			continue
		}
		expr, err := promql.ParseExpr(grafanaVariables.Replace(q))
		if err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		parser.Inspect(expr, func(n parser.Node, path []parser.Node) error {
			switch n := n.(type) {
			case *parser.VectorSelector:
				if !slices.ContainsFunc(n.LabelMatchers, func(m *labels.Matcher) bool {
					return m.Name == "cluster" && m.Type == labels.MatchEqual && m.Value == "$cluster"
				}) {
					t.Errorf("%s: %s, want cluster=\"$cluster\" among its matchers", where, n)
				}
			case *parser.Call:
				if !strings.HasPrefix(where, "panel ") || (n.Func.Name != "rate" && n.Func.Name != "increase") {
					return nil
				}
				var agg *parser.AggregateExpr
				if len(path) > 0 {
					agg, _ = path[len(path)-1].(*parser.AggregateExpr)
				}
				if agg == nil || agg.Op != parser.MAX || agg.Without ||
					!slices.Contains(agg.Grouping, "namespace") || !slices.Contains(agg.Grouping, "pod") ||
					slices.Contains(agg.Grouping, "job") || slices.Contains(agg.Grouping, "instance") {
					t.Errorf("%s: %s is not the argument of a max by (namespace, pod, ...) without job and instance", where, n)
				}
			}
			return nil
		})
	}
}
