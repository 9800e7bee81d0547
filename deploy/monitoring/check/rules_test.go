package check

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
)

// dir is deploy/monitoring, seen from this package's directory.
var dir = ".."

// repoFile is a file of the repository.
func repoFile(elem ...string) string {
	return filepath.Join(append([]string{dir, "..", ".."}, elem...)...)
}

// readRules reads rules.yaml.
func readRules(t *testing.T) RuleFile {
	t.Helper()
	var f RuleFile
	if err := readYAML(filepath.Join(dir, "rules.yaml"), &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Groups) == 0 {
		t.Fatal("rules.yaml: no groups")
	}
	return f
}

// TestPrometheusRuleIsTheRuleFile: prometheusrule.yaml holds exactly rules.yaml's groups.
func TestPrometheusRuleIsTheRuleFile(t *testing.T) {
	var pr struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   struct {
			Name      string            `yaml:"name"`
			Namespace string            `yaml:"namespace"`
			Labels    map[string]string `yaml:"labels"`
		} `yaml:"metadata"`
		Spec RuleFile `yaml:"spec"`
	}
	if err := readYAML(filepath.Join(dir, "prometheusrule.yaml"), &pr); err != nil {
		t.Fatal(err)
	}
	if pr.APIVersion != "monitoring.coreos.com/v1" || pr.Kind != "PrometheusRule" || pr.Metadata.Name == "" {
		t.Errorf("prometheusrule.yaml: %s %s %q, want a named monitoring.coreos.com/v1 PrometheusRule", pr.APIVersion, pr.Kind, pr.Metadata.Name)
	}
	if want := readRules(t); !reflect.DeepEqual(pr.Spec, want) {
		t.Errorf("prometheusrule.yaml's groups differ from rules.yaml's:\n got %+v\nwant %+v", pr.Spec, want)
	}
}

// TestStackValuesHoldTheRuleFile: kube-prometheus-stack.yaml is Helm values for the stack
// whose additionalPrometheusRulesMap holds one entry, with exactly rules.yaml's groups and
// nothing else (the chart adds its own labels, release among them, to what it renders).
func TestStackValuesHoldTheRuleFile(t *testing.T) {
	var values struct {
		AdditionalPrometheusRulesMap map[string]RuleFile `yaml:"additionalPrometheusRulesMap"`
	}
	if err := readYAML(filepath.Join(dir, "kube-prometheus-stack.yaml"), &values); err != nil {
		t.Fatal(err)
	}
	if len(values.AdditionalPrometheusRulesMap) != 1 {
		t.Fatalf("kube-prometheus-stack.yaml: %d entries in additionalPrometheusRulesMap, want 1", len(values.AdditionalPrometheusRulesMap))
	}
	want := readRules(t)
	for name, got := range values.AdditionalPrometheusRulesMap {
		if !reflect.DeepEqual(got, want) {
			t.Errorf("kube-prometheus-stack.yaml's %s differs from rules.yaml's groups:\n got %+v\nwant %+v", name, got, want)
		}
	}
}

// TestEveryAlertHasAFor: every alert says how long it waits (for:, 0s included), and its
// description says why: the word for followed by that duration.
func TestEveryAlertHasAFor(t *testing.T) {
	for name, r := range readRules(t).rules() {
		if r.For == "" {
			t.Errorf("%s: no for:, want a deliberate one (0s included)", name)
			continue
		}
		if !strings.Contains(r.Annotations["description"], "for "+r.For) {
			t.Errorf("%s: for %s, and its description does not say \"for %s\" and why", name, r.For, r.For)
		}
	}
}

// TestAlertsAggregateByPod: every alert's expression aggregates by exactly namespace and
// pod at its top (the comparison's operands), and selects no job: one alert per Pod
// however many jobs scrape it, and no job selector to keep in step.
func TestAlertsAggregateByPod(t *testing.T) {
	for name, r := range readRules(t).rules() {
		expr, err := promql.ParseExpr(r.Expr)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok {
				for _, m := range vs.LabelMatchers {
					if m.Name == "job" {
						t.Errorf("%s: selects job (%s)", name, m)
					}
				}
			}
			return nil
		})
		for _, agg := range topAggregations(expr) {
			if agg.Without || !slices.Equal(slices.Sorted(slices.Values(agg.Grouping)), []string{"namespace", "pod"}) {
				t.Errorf("%s: %s, want an aggregation by (namespace, pod)", name, agg)
			}
		}
	}
}

// topAggregations returns the aggregations an alert's expression compares or combines:
// what is left of its binary operators once the scalars are set aside. Anything else
// there (a bare selector, a function) is returned as an aggregation without grouping,
// which TestAlertsAggregateByPod then reports.
func topAggregations(e parser.Expr) []*parser.AggregateExpr {
	switch e := e.(type) {
	case *parser.ParenExpr:
		return topAggregations(e.Expr)
	case *parser.BinaryExpr:
		return append(topAggregations(e.LHS), topAggregations(e.RHS)...)
	case *parser.NumberLiteral:
		return nil
	case *parser.AggregateExpr:
		return []*parser.AggregateExpr{e}
	default:
		return []*parser.AggregateExpr{{Op: parser.SUM, Expr: e, Without: true}}
	}
}

// runbookURL is where every alert's runbook is: an anchor of docs/operations.md.
const runbookURL = "https://github.com/coredns/k8s_event/blob/main/docs/operations.md#"

// TestAlertsAreDocumented: every alert has a severity, a summary, a description and a
// runbook link to an anchor docs/operations.md has, and the documentation names it, with
// its severity and for: in its table of alerts.
func TestAlertsAreDocumented(t *testing.T) {
	doc, err := os.ReadFile(repoFile("docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`<a id="([^"]+)"></a>`).FindAllStringSubmatch(string(doc), -1) {
		anchors[m[1]] = true
	}
	for name, r := range readRules(t).rules() {
		switch r.Labels["severity"] {
		case "warning", "critical", "info":
		default:
			t.Errorf("%s: severity %q, want warning, critical or info", name, r.Labels["severity"])
		}
		for _, a := range []string{"summary", "description"} {
			if strings.TrimSpace(r.Annotations[a]) == "" {
				t.Errorf("%s: no %s", name, a)
			}
		}
		anchor, ok := strings.CutPrefix(r.Annotations["runbook_url"], runbookURL)
		if !ok || !anchors[anchor] {
			t.Errorf("%s: runbook_url %q, want %sANCHOR with <a id=\"ANCHOR\"></a> in docs/operations.md", name, r.Annotations["runbook_url"], runbookURL)
		}
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("%s: docs/operations.md does not name it", name)
		}
		if row := "| `" + name + "` | " + r.Labels["severity"] + " | " + r.For + " |"; !strings.Contains(string(doc), row) {
			t.Errorf("%s: docs/operations.md's table of alerts has no row %q", name, row)
		}
	}
}
