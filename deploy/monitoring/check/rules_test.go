package check

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
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

// runbookURL is where every alert's runbook is: an anchor of docs/operations.md.
const runbookURL = "https://github.com/coredns/k8s_event/blob/main/docs/operations.md#"

// TestAlertsAreDocumented: every alert has a severity, a summary, a description and a
// runbook link to an anchor docs/operations.md has, and the documentation names it.
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
	}
}
