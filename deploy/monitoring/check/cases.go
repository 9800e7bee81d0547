package check

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Cases is alerts-test.yaml: promtool's alert tests, written against recordings.
type Cases struct {
	// TargetLabels are the labels a scrape adds to every series, job aside.
	TargetLabels map[string]string `yaml:"target_labels"`
	// Jobs scrape every series, each under its own job label: as kube-prometheus-stack's
	// coredns ServiceMonitor and a PodMonitor both scrape CoreDNS. Every input series
	// comes once per job.
	Jobs []string `yaml:"jobs"`
	// AlertLabels are the target labels each alert keeps (its expression aggregates the
	// others away): one alert per Pod whatever the jobs.
	AlertLabels []string `yaml:"alert_labels"`
	Tests       []Case   `yaml:"tests"`
}

// scraped returns series (in the exposition format) once per job of c, with the target
// labels and that job.
func (c Cases) scraped(series string) []string {
	if len(c.Jobs) == 0 {
		return []string{withLabels(series, c.TargetLabels)}
	}
	var out []string
	for _, job := range c.Jobs {
		labels := maps.Clone(c.TargetLabels)
		labels["job"] = job
		out = append(out, withLabels(series, labels))
	}
	return out
}

// alertLabels returns the target labels an alert keeps.
func (c Cases) alertLabels() map[string]string {
	labels := map[string]string{}
	for _, k := range c.AlertLabels {
		if v, ok := c.TargetLabels[k]; ok {
			labels[k] = v
		}
	}
	return labels
}

// Case is one group of promtool alert tests on one input.
type Case struct {
	Name string `yaml:"name"`
	// Recording names the recording whose series are the input; Repeat and then Hold
	// extend it. Without a recording, InputSeries is the input, in promtool's notation.
	Recording   string        `yaml:"recording"`
	Repeat      *RepeatSpan   `yaml:"repeat"`
	Hold        time.Duration `yaml:"hold"`
	Interval    time.Duration `yaml:"interval"`
	InputSeries []rawSeries   `yaml:"input_series"`
	Alerts      []AlertCheck  `yaml:"alerts"`
}

// RepeatSpan is Recording.Repeat's arguments.
type RepeatSpan struct {
	From string        `yaml:"from"`
	To   string        `yaml:"to"`
	For  time.Duration `yaml:"for"`
}

// AlertCheck is one evaluation: at At (MARK+DURATION, or a duration from the start),
// Alertname fires once for each label set of Firing (with the target labels of
// AlertLabels and the rule's labels), and not at all when Firing is empty.
type AlertCheck struct {
	At        string              `yaml:"at"`
	Alertname string              `yaml:"alertname"`
	Firing    []map[string]string `yaml:"firing"`
}

// Rule is an alerting rule of rules.yaml.
type Rule struct {
	Alert       string            `yaml:"alert" json:"alert"`
	Expr        string            `yaml:"expr" json:"expr"`
	For         string            `yaml:"for,omitempty" json:"for,omitempty"`
	Labels      map[string]string `yaml:"labels" json:"labels"`
	Annotations map[string]string `yaml:"annotations" json:"annotations"`
}

// RuleGroup is a group of rules.yaml.
type RuleGroup struct {
	Name  string `yaml:"name" json:"name"`
	Rules []Rule `yaml:"rules" json:"rules"`
}

// RuleFile is rules.yaml.
type RuleFile struct {
	Groups []RuleGroup `yaml:"groups"`
}

// readYAML decodes path into v, unknown fields being errors.
func readYAML(path string, v any) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	return nil
}

// ReadRuleFile reads a rule file (rules.yaml).
func ReadRuleFile(path string) (RuleFile, error) {
	var f RuleFile
	if err := readYAML(path, &f); err != nil {
		return RuleFile{}, err
	}
	if len(f.Groups) == 0 {
		return RuleFile{}, fmt.Errorf("%s: no groups", path)
	}
	return f, nil
}

// rules returns rules.yaml's alerting rules by name.
func (f RuleFile) rules() map[string]Rule {
	m := map[string]Rule{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			m[r.Alert] = r
		}
	}
	return m
}

// promtool's test file format (its cmd/promtool/unittest.go), the parts used here.
type (
	promtoolFile struct {
		RuleFiles          []string       `yaml:"rule_files"`
		EvaluationInterval string         `yaml:"evaluation_interval"`
		Tests              []promtoolTest `yaml:"tests"`
	}
	promtoolTest struct {
		Name          string              `yaml:"name"`
		Interval      string              `yaml:"interval"`
		InputSeries   []rawSeries         `yaml:"input_series"`
		AlertRuleTest []promtoolAlertTest `yaml:"alert_rule_test"`
	}
	promtoolAlertTest struct {
		EvalTime  string          `yaml:"eval_time"`
		Alertname string          `yaml:"alertname"`
		ExpAlerts []promtoolAlert `yaml:"exp_alerts"`
	}
	promtoolAlert struct {
		ExpLabels      map[string]string `yaml:"exp_labels"`
		ExpAnnotations map[string]string `yaml:"exp_annotations"`
	}
)

// WritePromtoolTests writes the promtool test file for cases, reading recordings from
// dir, and returns its path (in out).
func WritePromtoolTests(cases Cases, rules RuleFile, rulesPath, dir, out string) (string, error) {
	byName := rules.rules()
	abs, err := filepath.Abs(rulesPath)
	if err != nil {
		return "", err
	}
	file := promtoolFile{RuleFiles: []string{abs}, EvaluationInterval: "15s"}
	for _, c := range cases.Tests {
		t := promtoolTest{Name: c.Name}
		var rec *Recording
		interval := c.Interval
		if c.Recording != "" {
			if rec, err = ReadRecording(filepath.Join(dir, c.Recording+".yaml")); err != nil {
				return "", err
			}
			if c.Repeat != nil {
				if rec, err = rec.Repeat(c.Repeat.From, c.Repeat.To, c.Repeat.For); err != nil {
					return "", err
				}
			}
			rec = rec.Hold(c.Hold)
			interval = rec.Interval
			for _, s := range rec.Series {
				for _, name := range cases.scraped(s.Name) {
					t.InputSeries = append(t.InputSeries, rawSeries{Series: name, Values: s.PromtoolValues()})
				}
			}
		} else {
			for _, s := range c.InputSeries {
				for _, name := range cases.scraped(s.Series) {
					t.InputSeries = append(t.InputSeries, rawSeries{Series: name, Values: s.Values})
				}
			}
		}
		if interval <= 0 {
			return "", fmt.Errorf("case %q: no interval", c.Name)
		}
		t.Interval = interval.String()
		for _, a := range c.Alerts {
			rule, ok := byName[a.Alertname]
			if !ok {
				return "", fmt.Errorf("case %q: no alert %s in %s", c.Name, a.Alertname, rulesPath)
			}
			at, err := evalTime(a.At, rec)
			if err != nil {
				return "", fmt.Errorf("case %q: %v", c.Name, err)
			}
			pt := promtoolAlertTest{EvalTime: at.String(), Alertname: a.Alertname}
			for _, extra := range a.Firing {
				labels := cases.alertLabels()
				maps.Copy(labels, extra)
				maps.Copy(labels, rule.Labels)
				ann := map[string]string{}
				for k, v := range rule.Annotations {
					ann[k] = expandLabels(v, labels)
				}
				pt.ExpAlerts = append(pt.ExpAlerts, promtoolAlert{ExpLabels: labels, ExpAnnotations: ann})
			}
			t.AlertRuleTest = append(t.AlertRuleTest, pt)
		}
		file.Tests = append(file.Tests, t)
	}
	data, err := yaml.Marshal(file)
	if err != nil {
		return "", err
	}
	return out, os.WriteFile(out, data, 0o644)
}

// evalTime reads MARK+DURATION (a mark of rec) or DURATION.
func evalTime(at string, rec *Recording) (time.Duration, error) {
	mark, rest, ok := strings.Cut(at, "+")
	if !ok {
		return time.ParseDuration(at)
	}
	if rec == nil {
		return 0, fmt.Errorf("%s: a mark needs a recording", at)
	}
	base := 0
	if mark == "end" {
		base = rec.Samples - 1
	} else if base, ok = rec.Marks[mark]; !ok {
		return 0, fmt.Errorf("%s: recording %s has no mark %s (marks %v)", at, rec.Scenario, mark, rec.Marks)
	}
	d, err := time.ParseDuration(rest)
	return time.Duration(base)*rec.Interval + d, err
}

// withLabels adds labels to a series written as in the exposition format.
func withLabels(series string, labels map[string]string) string {
	var parts []string
	for _, k := range sortedKeys(labels) {
		parts = append(parts, k+"="+strconv.Quote(labels[k]))
	}
	if len(parts) == 0 {
		return series
	}
	if name, rest, ok := strings.Cut(series, "{"); ok {
		return name + "{" + strings.Join(parts, ",") + "," + rest
	}
	return series + "{" + strings.Join(parts, ",") + "}"
}

// labelRef is how an annotation names a label: {{ $labels.NAME }}.
var labelRef = regexp.MustCompile(`\{\{ *\$labels\.([a-zA-Z_][a-zA-Z0-9_]*) *\}\}`)

// expandLabels fills an annotation's label references in, as Prometheus would; another
// template construct is left as it is (and the promtool test then fails on it).
func expandLabels(s string, labels map[string]string) string {
	return labelRef.ReplaceAllStringFunc(s, func(ref string) string {
		return labels[labelRef.FindStringSubmatch(ref)[1]]
	})
}
