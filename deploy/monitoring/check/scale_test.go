package check

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
)

// ranges returns the ranges of expr's range selectors and subqueries, in order.
func ranges(t *testing.T, expr string) []time.Duration {
	t.Helper()
	e, err := promql.ParseExpr(expr)
	if err != nil {
		t.Fatal(err)
	}
	var out []time.Duration
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.MatrixSelector:
			out = append(out, n.Range)
		case *parser.SubqueryExpr:
			out = append(out, n.Range, n.Step)
		}
		return nil
	})
	return out
}

// TestScaledRules: rules.yaml scaled by the alerting test's factor (ScaleRules) differs
// from it only in its durations, each divided by exactly the factor, and scaling it back
// gives rules.yaml's expressions again (as the parser prints them).
func TestScaledRules(t *testing.T) {
	const factor = 30
	orig := readRules(t)
	scaled, err := ScaleRules(orig, factor)
	if err != nil {
		t.Fatal(err)
	}
	back, err := mapDurations(scaled, func(d time.Duration) (time.Duration, error) { return d * factor, nil })
	if err != nil {
		t.Fatal(err)
	}
	byName, backByName := scaled.rules(), back.rules()
	if len(byName) != len(orig.rules()) {
		t.Fatalf("%d scaled alerts, want %d", len(byName), len(orig.rules()))
	}
	for name, o := range orig.rules() {
		s, b := byName[name], backByName[name]
		if !reflect.DeepEqual(s.Labels, o.Labels) || !reflect.DeepEqual(s.Annotations, o.Annotations) {
			t.Errorf("%s: labels or annotations changed", name)
		}
		of, _ := model.ParseDuration(o.For)
		sf, err := model.ParseDuration(s.For)
		if err != nil || time.Duration(sf)*factor != time.Duration(of) {
			t.Errorf("%s: for %s scaled to %s, want a %dth", name, o.For, s.For, factor)
		}
		or, sr := ranges(t, o.Expr), ranges(t, s.Expr)
		if len(or) == 0 || len(or) != len(sr) {
			t.Errorf("%s: ranges %v scaled to %v", name, or, sr)
		}
		for i := range min(len(or), len(sr)) {
			if sr[i]*factor != or[i] {
				t.Errorf("%s: range %v scaled to %v, want a %dth", name, or[i], sr[i], factor)
			}
		}
		pe, _ := promql.ParseExpr(o.Expr)
		if b.Expr != pe.String() {
			t.Errorf("%s: scaled back, %q, want %q", name, b.Expr, pe.String())
		}
	}
}

// TestScaleRulesRefuses: what a factor cannot scale is an error, not a silent change.
func TestScaleRulesRefuses(t *testing.T) {
	for _, r := range []Rule{
		{Alert: "Offset", Expr: `rate(x[5m] offset 1h) > 0`},
		{Alert: "At", Expr: `rate(x[5m] @ 100) > 0`},
		{Alert: "Indivisible", Expr: `rate(x[1ms]) > 0`},
		{Alert: "IndivisibleFor", Expr: `x > 0`, For: "1ms"},
	} {
		_, err := ScaleRules(RuleFile{Groups: []RuleGroup{{Name: "g", Rules: []Rule{r}}}}, 30)
		if err == nil || !strings.Contains(err.Error(), r.Alert) {
			t.Errorf("%s: %v, want an error naming it", r.Alert, err)
		}
	}
	if _, err := ScaleRules(readRules(t), 0); err == nil {
		t.Error("factor 0: no error")
	}
}
