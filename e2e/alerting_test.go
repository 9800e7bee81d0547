//go:build alerting

package e2e

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	"github.com/miekg/dns"
	"sigs.k8s.io/yaml"
)

// The alerts of deploy/monitoring/rules.yaml the test follows, and the stack's.
const (
	alertRejected     = "CoreDNSK8sEventRejected"
	alertErrorsGoOn   = "CoreDNSK8sEventErrorsGoOn"
	alertInfoInhibit  = "InfoInhibitor"
	stackInterval     = 30 * time.Second // kube-prometheus-stack's scrape and evaluation interval
	alertingReplicas  = 2
	alertingRunBudget = 3 * time.Minute
)

// alertingRules reads the scaled copy of rules.yaml make alerting wrote
// (K8S_EVENT_ALERT_RULES) and its factor (K8S_EVENT_ALERT_SCALE), and returns them with
// the for: of each alert.
func alertingRules(t *testing.T) (path string, factor int, forOf map[string]time.Duration) {
	t.Helper()
	path = os.Getenv("K8S_EVENT_ALERT_RULES")
	factor, err := strconv.Atoi(os.Getenv("K8S_EVENT_ALERT_SCALE"))
	if path == "" || err != nil || factor < 1 {
		t.Fatalf("K8S_EVENT_ALERT_RULES (%q) and K8S_EVENT_ALERT_SCALE (%q) must name the scaled rule file and its factor: run make alerting",
			path, os.Getenv("K8S_EVENT_ALERT_SCALE"))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert string `json:"alert"`
				For   string `json:"for"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	forOf = map[string]time.Duration{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			d := time.Duration(0)
			if r.For != "" {
				if d, err = time.ParseDuration(r.For); err != nil {
					t.Fatalf("%s: %s: for %q: %v", path, r.Alert, r.For, err)
				}
			}
			forOf[r.Alert] = d
		}
	}
	for _, a := range []string{alertRejected, alertErrorsGoOn} {
		if _, ok := forOf[a]; !ok {
			t.Fatalf("%s: no alert %s", path, a)
		}
	}
	return path, factor, forOf
}

// TestAlertsAsKubePrometheusStackRunsThem: deploy/monitoring's rules in a real Prometheus
// and a real Alertmanager, set up as kube-prometheus-stack sets them up (its InfoInhibitor
// rule, its default inhibit rules), with CoreDNS scraped twice, by the stack's coredns
// ServiceMonitor and by a PodMonitor, two Pods that may not write events and whose
// errors go on:
//
//   - CoreDNSK8sEventRejected reaches Alertmanager once per Pod (not once per job),
//     within its for: of the Pod's first refused event (plus two scrapes and two
//     evaluations);
//   - CoreDNSK8sEventErrorsGoOn (info) reaches it once per Pod, and is delivered
//     (active) while the warning fires in the namespace, then muted by InfoInhibitor
//     once no warning is left: what docs/operations.md says.
//
// The rules are rules.yaml with every duration divided by K8S_EVENT_ALERT_SCALE
// (deploy/monitoring/check ScaleRules, make alerting), and Prometheus's intervals, the
// stack's 30 s, alike: 15 minutes of alerting take 30 seconds.
func TestAlertsAsKubePrometheusStackRunsThem(t *testing.T) {
	t.Parallel()
	rules, factor, forOf := alertingRules(t)
	interval := stackInterval / time.Duration(factor)
	cl := startOwnCluster(t, "testdata/no-events-role.yaml")
	cl.waitCanCreateEvents(t, false)

	type replica struct {
		pod           string
		dns, metrics  string
		firstRejected time.Time // when the test first saw a refused event in its metrics
		rejectedAt    time.Time // when Alertmanager first had its Rejected alert
	}
	var replicas []*replica
	var targets []scrapeTarget
	for range alertingReplicas {
		pod := cl.newPod(t)
		metrics := freeAddr(t)
		_, addr := startFailingUpstream(t, cl, podEnv(pod, false), localZoneDirective(), k8sEventDirective(), prometheusDirective(metrics))
		replicas = append(replicas, &replica{pod: pod.Name, dns: addr, metrics: metrics})
		targets = append(targets, scrapeTarget{addr: metrics, namespace: pod.Namespace, pod: pod.Name})
	}
	namespace := targets[0].namespace

	am := startAlertmanager(t)
	prom := startPrometheus(t, am, interval, targets, rules, "testdata/info-inhibitor.yaml")

	// Both jobs scrape both Pods before the first error: the counters start at 0 in
	// Prometheus, so that the first refusal is an increase.
	eventually(t, 30*time.Second, "Prometheus holding the refused-events counter of every Pod under both jobs", func() (bool, string) {
		got, err := promQuery(prom, `coredns_k8s_event_dropped_total{reason="rejected"}`)
		if err != nil {
			return false, err.Error()
		}
		return len(got) == alertingReplicas*len(monitorJobs), fmt.Sprintf("%d series: %v", len(got), got)
	})

	// Errors go on in both Pods until the test ends: a failing query to each every
	// 500 ms, each one error line, the first 25 of each refused (the burst), the others
	// rate limited.
	done := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(done); wg.Wait() })
	for _, r := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				devenv.Query(r.dns, fmt.Sprintf("goes-on-%d.example.org.", i), dns.TypeA)
				select {
				case <-done:
					return
				case <-time.After(500 * time.Millisecond):
				}
			}
		}()
	}

	var (
		deliveredWithWarning bool // ErrorsGoOn of every Pod active while a warning fires
		mutedAfter           bool // ErrorsGoOn of every Pod muted by InfoInhibitor, no warning left
		twice                = map[string]bool{}
		last                 []amAlert
	)
	deadline := time.Now().Add(alertingRunBudget)
	for !(deliveredWithWarning && mutedAfter) {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: ErrorsGoOn delivered with a warning firing (%v), then muted by InfoInhibitor (%v); Alertmanager's alerts:\n%s",
				alertingRunBudget, deliveredWithWarning, mutedAfter, formatAMAlerts(last))
		}
		time.Sleep(250 * time.Millisecond)
		now := time.Now()
		for _, r := range replicas {
			if r.firstRejected.IsZero() && scrape(t, r.metrics).Get(metricDropped, "reason", "rejected") > 0 {
				r.firstRejected = now
			}
		}
		alerts, err := amAlerts(am)
		if err != nil {
			t.Fatal(err)
		}
		last = alerts

		seen := map[string]int{}
		var warning bool
		var inhibitors []string
		errorsGoOn := map[string]amAlert{}
		for _, a := range alerts {
			if a.Labels["namespace"] != namespace {
				continue
			}
			key := a.Labels["alertname"] + " " + a.Labels["pod"]
			if seen[key]++; seen[key] == 2 {
				twice[key] = true
			}
			switch a.Labels["severity"] {
			case "warning", "critical":
				warning = true
			}
			switch a.Labels["alertname"] {
			case alertInfoInhibit:
				inhibitors = append(inhibitors, a.Fingerprint)
			case alertErrorsGoOn:
				errorsGoOn[a.Labels["pod"]] = a
			case alertRejected:
				for _, r := range replicas {
					if r.pod == a.Labels["pod"] && r.rejectedAt.IsZero() {
						r.rejectedAt = now
					}
				}
			}
		}
		if len(errorsGoOn) < alertingReplicas {
			continue
		}
		allActive, allMuted := true, true
		for _, a := range errorsGoOn {
			allActive = allActive && a.Status.State == "active"
			allMuted = allMuted && a.Status.State == "suppressed" && slices.ContainsFunc(a.Status.InhibitedBy, func(fp string) bool {
				return slices.Contains(inhibitors, fp)
			})
		}
		if warning && allActive && !deliveredWithWarning {
			deliveredWithWarning = true
			t.Logf("%v: ErrorsGoOn of every Pod active, a warning firing in %s:\n%s", now.Format(time.TimeOnly), namespace, formatAMAlerts(alerts))
		}
		if !warning && allMuted && deliveredWithWarning {
			mutedAfter = true
			t.Logf("%v: no warning left; ErrorsGoOn of every Pod muted by InfoInhibitor:\n%s", now.Format(time.TimeOnly), formatAMAlerts(alerts))
		}
	}

	if len(twice) > 0 {
		t.Errorf("alerts Alertmanager held twice (two jobs scraping one Pod): %v", slices.Sorted(maps.Keys(twice)))
	}
	for _, a := range last {
		if _, ok := a.Labels["job"]; ok && a.Labels["alertname"] != alertInfoInhibit {
			t.Errorf("alert %v keeps the job label", a.Labels)
		}
	}
	// Prometheus scrapes and evaluates every interval: an alert is sent at most two of
	// each after the refusal is in the metrics.
	bound := forOf[alertRejected] + 4*interval + time.Second
	for _, r := range replicas {
		took := r.rejectedAt.Sub(r.firstRejected)
		t.Logf("Pod %s: first refusal seen at %v, its Rejected alert in Alertmanager %v later (for: %v, bound %v)",
			r.pod, r.firstRejected.Format(time.TimeOnly), took.Round(time.Millisecond), forOf[alertRejected], bound)
		if r.firstRejected.IsZero() || r.rejectedAt.IsZero() || took > bound {
			t.Errorf("Pod %s: Rejected alert in Alertmanager %v after the first refusal (seen %v, alert %v), want within %v",
				r.pod, took, !r.firstRejected.IsZero(), !r.rejectedAt.IsZero(), bound)
		}
	}
}

// formatAMAlerts prints alerts one a line: name, Pod, job, severity, state, muted by.
func formatAMAlerts(alerts []amAlert) string {
	var b strings.Builder
	for _, a := range alerts {
		fmt.Fprintf(&b, "  %s pod=%q job=%q severity=%s %s %s inhibitedBy=%v\n", a.Labels["alertname"], a.Labels["pod"],
			a.Labels["job"], a.Labels["severity"], a.Fingerprint, a.Status.State, a.Status.InhibitedBy)
	}
	return b.String()
}
