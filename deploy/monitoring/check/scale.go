package check

import (
	"fmt"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
)

// promql is PromQL's parser with Prometheus's default options.
var promql = parser.NewParser(parser.Options{})

// ScaleRules returns f with every duration of its alerts divided by factor: each rule's
// for:, and each range of its expression (range selectors, subqueries' ranges and
// steps). Nothing else changes: the expression is the original's syntax tree, printed
// again, with those ranges only changed. A duration that factor does not divide into
// whole milliseconds, an offset or an @ modifier (times a factor cannot scale) is an
// error. The alerting test (e2e, make alerting) runs rules.yaml scaled this way, with
// Prometheus's intervals scaled alike, so that 15 minutes of alerting take 30 seconds.
func ScaleRules(f RuleFile, factor int) (RuleFile, error) {
	if factor < 1 {
		return RuleFile{}, fmt.Errorf("factor %d, want 1 or more", factor)
	}
	return mapDurations(f, func(d time.Duration) (time.Duration, error) {
		if d%(time.Duration(factor)*time.Millisecond) != 0 {
			return 0, fmt.Errorf("%v is not a whole number of milliseconds once divided by %d", d, factor)
		}
		return d / time.Duration(factor), nil
	})
}

// mapDurations returns f with every duration of its alerts replaced by scale's result.
func mapDurations(f RuleFile, scale func(time.Duration) (time.Duration, error)) (RuleFile, error) {
	out := RuleFile{}
	for _, g := range f.Groups {
		sg := RuleGroup{Name: g.Name}
		for _, r := range g.Rules {
			s, err := mapRule(r, scale)
			if err != nil {
				return RuleFile{}, fmt.Errorf("%s: %v", r.Alert, err)
			}
			sg.Rules = append(sg.Rules, s)
		}
		out.Groups = append(out.Groups, sg)
	}
	return out, nil
}

func mapRule(r Rule, scale func(time.Duration) (time.Duration, error)) (Rule, error) {
	if r.For != "" {
		d, err := model.ParseDuration(r.For)
		if err != nil {
			return Rule{}, fmt.Errorf("for: %v", err)
		}
		s, err := scale(time.Duration(d))
		if err != nil {
			return Rule{}, fmt.Errorf("for: %v", err)
		}
		r.For = model.Duration(s).String()
	}
	expr, err := promql.ParseExpr(r.Expr)
	if err != nil {
		return Rule{}, err
	}
	err = inspectErr(expr, func(n parser.Node) error {
		switch n := n.(type) {
		case *parser.MatrixSelector:
			n.Range, err = scale(n.Range)
		case *parser.SubqueryExpr:
			if n.OriginalOffset != 0 || n.Timestamp != nil || n.StartOrEnd != 0 {
				return fmt.Errorf("subquery %s: an offset or @ cannot be scaled", n)
			}
			if n.Range, err = scale(n.Range); err == nil {
				n.Step, err = scale(n.Step)
			}
		case *parser.VectorSelector:
			if n.OriginalOffset != 0 || n.Timestamp != nil || n.StartOrEnd != 0 {
				return fmt.Errorf("%s: an offset or @ cannot be scaled", n)
			}
		}
		return err
	})
	if err != nil {
		return Rule{}, err
	}
	r.Expr = expr.String()
	return r, nil
}

// inspectErr walks expr, stopping at the first error fn returns.
func inspectErr(expr parser.Expr, fn func(parser.Node) error) error {
	var first error
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if first == nil {
			first = fn(n)
		}
		return first
	})
	return first
}
