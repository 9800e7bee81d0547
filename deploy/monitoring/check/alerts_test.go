package check

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// readCases reads alerts-test.yaml.
func readCases(t *testing.T) Cases {
	t.Helper()
	var c Cases
	if err := readYAML(filepath.Join(dir, "alerts-test.yaml"), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEveryAlertTested: alerts-test.yaml evaluates every alert of rules.yaml at least
// once where it fires and once where it does not, and every recording of recordings/
// is the input of a case.
func TestEveryAlertTested(t *testing.T) {
	cases := readCases(t)
	firing, silent, used := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, c := range cases.Tests {
		used[c.Recording] = true
		for _, a := range c.Alerts {
			if len(a.Firing) > 0 {
				firing[a.Alertname] = true
			} else {
				silent[a.Alertname] = true
			}
		}
	}
	for name := range readRules(t).rules() {
		if !firing[name] || !silent[name] {
			t.Errorf("%s: tested firing %v, not firing %v; want both", name, firing[name], silent[name])
		}
	}
	recs, err := filepath.Glob(filepath.Join(dir, "recordings", "*.yaml"))
	if err != nil || len(recs) == 0 {
		t.Fatalf("no recordings (%v)", err)
	}
	for _, r := range recs {
		if name := filepath.Base(r); !used[name[:len(name)-len(".yaml")]] {
			t.Errorf("recordings/%s: no case uses it", name)
		}
	}
}

// TestAlertRules runs `promtool test rules` on alerts-test.yaml's cases, once on the
// committed recordings and once on those of the latest `make e2e` (K8S_EVENT_RECORDINGS,
// which make monitoring-check sets after e2e ran): the committed input must still be what
// a run shows. K8S_EVENT_PROMTOOL names promtool (make builds it into .bin).
func TestAlertRules(t *testing.T) {
	promtool := os.Getenv("K8S_EVENT_PROMTOOL")
	if promtool == "" {
		t.Fatal("K8S_EVENT_PROMTOOL is not set: run make monitoring-check, which builds promtool")
	}
	dirs := map[string]string{"committed": filepath.Join(dir, "recordings")}
	if fresh := os.Getenv("K8S_EVENT_RECORDINGS"); fresh != "" {
		dirs["fresh"] = fresh
	}
	cases, rules := readCases(t), readRules(t)
	for name, recs := range dirs {
		t.Run(name, func(t *testing.T) {
			out, err := WritePromtoolTests(cases, rules, filepath.Join(dir, "rules.yaml"), recs, filepath.Join(t.TempDir(), "alerts-test.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			res, err := exec.Command(promtool, "test", "rules", out).CombinedOutput()
			t.Logf("promtool test rules on the %s recordings (%s):\n%s", name, recs, res)
			if err != nil {
				t.Fatalf("promtool: %v", err)
			}
		})
	}
}
