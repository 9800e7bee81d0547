package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coredns/k8s_event/e2e/controlplane"
	"github.com/miekg/dns"
)

// noEventsRole replaces deploy/rbac.yaml's Role with one that lets the coredns
// ServiceAccount look its Pod up, but not write events.
const noEventsRole = `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: coredns-k8s-event
  namespace: kube-system
rules:
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list"]
`

// forbiddenQueries is how many failing queries each case sends.
const forbiddenQueries = 300

// TestWithoutEventPermission: when the coredns identity may not write events, DNS keeps
// answering, the delivery failure is logged a bounded number of times, CoreDNS does not
// crash, and the denied writes stay within the rate settings; with the kubernetes
// plugin loaded too.
//
// It changes the RBAC rules every CoreDNS of the suite runs under, so it is not parallel:
// it runs before the parallel tests start, and restores deploy/rbac.yaml when done.
func TestWithoutEventPermission(t *testing.T) {
	cp := requireSuite(t)
	roleFile := filepath.Join(t.TempDir(), "no-events-role.yaml")
	if err := os.WriteFile(roleFile, []byte(noEventsRole), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := controlplane.ApplyFile(ctx, cp.AdminClient(), rbacFile()); err != nil {
			t.Errorf("restoring %s: %v", rbacFile(), err)
		}
		waitCanCreateEvents(t, "yes")
	})

	t.Run("errors and forward", func(t *testing.T) {
		testWithoutEventPermission(t, nil, roleFile)
	})
	t.Run("with the kubernetes plugin", func(t *testing.T) {
		kubernetes := fmt.Sprintf("kubernetes cluster.local {\n    kubeconfig %s\n}", cp.CoreDNSKubeconfig())
		testWithoutEventPermission(t, []string{kubernetes}, roleFile, clusterRoleFile())
	})
	t.Run("across reloads", func(t *testing.T) {
		testDeliveryLogAcrossReloads(t, roleFile)
	})
}

// deniedReloads is how many reloads testDeliveryLogAcrossReloads makes.
const deniedReloads = 5

// testDeliveryLogAcrossReloads: each reload starts a new reporter, and still the refused
// writes are logged at most once a minute for the whole process.
func testDeliveryLogAcrossReloads(t *testing.T, files ...string) {
	pod := newPod(t, files...)
	waitCanCreateEvents(t, "no")
	addr, metricsAddr, forward := loopbackAddr(freePort(t)), loopbackAddr(freePort(t)), failingForward(t)
	corefile := func(cacheTTL int) string {
		return serverBlock(".:"+portOf(addr), "errors", fmt.Sprintf("cache %d", cacheTTL), forward,
			kubeapiDirective(), k8sEventDirective(), prometheusDirective(metricsAddr))
	}
	c := startCoreDNS(t, corefile(30), podEnv(pod, true)...)
	for i := range deniedReloads + 1 {
		if i > 0 {
			c.writeCorefile(corefile(30 + i))
			c.signal(syscall.SIGUSR1)
			c.waitOutput(reloadTimeout, fmt.Sprintf("reload %d", i), func(lines []string) bool {
				return countLines(lines, "[INFO] Reloading complete", "") == i
			})
		}
		failQuery(t, addr, fmt.Sprintf("reload-%d.example.org.", i))
		eventually(t, 10*time.Second, fmt.Sprintf("the write of line %d tried", i+1), func() (bool, string) {
			m := scrapeMetrics(t, metricsAddr)
			return int(failedWrites(m)) == i+1, fmt.Sprintf("%v failed writes", failedWrites(m))
		})
	}
	delivery := countLines(c.lines(), "plugin/k8s_event: ", "event delivery")
	t.Logf("%d reloads, %d refused writes: %d event delivery lines", deniedReloads, deniedReloads+1, delivery)
	if delivery != 1 {
		t.Errorf("want the delivery failure logged once, got %d lines", delivery)
	}
}

func testWithoutEventPermission(t *testing.T, extra []string, files ...string) {
	pod := newPod(t, files...)
	waitCanCreateEvents(t, "no")

	addr, metricsAddr := loopbackAddr(freePort(t)), loopbackAddr(freePort(t))
	directives := append([]string{"errors", localZoneDirective()}, extra...)
	directives = append(directives, failingForward(t), kubeapiDirective(), k8sEventDirective(), prometheusDirective(metricsAddr))
	began := time.Now()
	c := startCoreDNS(t, serverBlock(".:"+portOf(addr), directives...), podEnv(pod, false)...)
	if extra != nil {
		// The kubernetes plugin answers from the API it can still read.
		r := expectRcode(t, addr, "kubernetes.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess)
		t.Logf("kubernetes plugin answered %v", r.Answer)
	}

	for i := range forbiddenQueries {
		failQuery(t, addr, fmt.Sprintf("denied-%d.example.org.", i))
		if _, err := localAnswer(addr, fmt.Sprintf("q%d.%s", i, localZone)); err != nil {
			t.Fatalf("local zone after %d failed queries: %v", i, err)
		}
	}
	c.waitOutput(10*time.Second, fmt.Sprintf("%d errors lines", forbiddenQueries), func(lines []string) bool {
		return countLines(lines, "[ERROR] plugin/errors: ", "denied-") == forbiddenQueries
	})

	// Every line the token bucket let through is tried once, and refused.
	var admitted float64
	eventually(t, 30*time.Second, "every admitted line tried", func() (bool, string) {
		m := scrapeMetrics(t, metricsAddr)
		admitted = m.sum(metricLines) - m.get(metricDropped, "reason", "rate_limited")
		tried := m.sum(metricWrites)
		return tried >= admitted && admitted > 0, fmt.Sprintf("%v lines admitted, %v writes", admitted, tried)
	})
	elapsed := time.Since(began)
	m := scrapeMetrics(t, metricsAddr)
	w := waitAudit(t, int(m.sum(metricWrites)), func() eventWrites { return auditEventWritesSince(t, began) })
	delivery := countLines(c.lines(), "plugin/k8s_event: ", "event delivery")
	limit := rateLimit(defaultBurst, defaultQPS, elapsed)
	t.Logf("after %v: %v lines, %v admitted, api_writes_total %v (%v failed); audit: %v writes (%v), %d denied; %d event delivery lines",
		elapsed.Round(time.Millisecond), m.sum(metricLines), admitted, m.sum(metricWrites), failedWrites(m),
		w.total(), w.byVerb, w.denied, delivery)

	if w.denied == 0 || w.allowed != 0 {
		t.Errorf("audit log: want denied writes only, got %d denied, %d allowed", w.denied, w.allowed)
	}
	if w.total() > limit {
		t.Errorf("audit log: %d event writes, want at most %d (burst %d + refill)", w.total(), limit, defaultBurst)
	}
	if failed := failedWrites(m); failed != m.sum(metricWrites) || failed != admitted || int(failed) != w.total() {
		t.Errorf("want one failed write per admitted line (%v), got api_writes_total %v (%v failed) and %d in the audit log",
			admitted, m.sum(metricWrites), failed, w.total())
	}
	if most := 1 + int(elapsed/time.Minute); delivery < 1 || delivery > most {
		t.Errorf("want the delivery failure logged at least once and at most once a minute (%d in %v), got %d lines",
			most, elapsed.Round(time.Second), delivery)
	}
	if evs := podEvents(t, pod); len(evs) != 0 {
		t.Errorf("want no events, got:\n%s", formatEvents(evs))
	}
	if exited, err := c.exited(); exited {
		t.Fatalf("CoreDNS exited: %v", err)
	}
	if _, err := localAnswer(addr, "last."+localZone); err != nil {
		t.Fatal(err)
	}
	if err := c.stop(); err != nil {
		t.Errorf("CoreDNS did not stop cleanly: %v", err)
	}
}

// failedWrites is the number of Events API writes that failed, all verbs together.
func failedWrites(m metrics) float64 {
	n := 0.0
	for _, verb := range []string{"create", "patch", "update"} {
		n += m.get(metricWrites, "result", "error", "verb", verb)
	}
	return n
}

// waitCanCreateEvents waits until RBAC gives the coredns identity this answer to "may
// it create events in kube-system".
func waitCanCreateEvents(t *testing.T, want string) {
	t.Helper()
	eventually(t, 30*time.Second, "kubectl auth can-i create events says "+want, func() (bool, string) {
		out := strings.TrimSpace(kubectlAllowFail(t, "auth", "can-i", "create", "events", "-n", "kube-system", "--as", controlplane.CoreDNSUser))
		return out == want, out
	})
}

// countLines counts the lines containing both prefix and substr.
func countLines(lines []string, prefix, substr string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, prefix) && strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

// The plugin's default rate settings.
const (
	defaultBurst = 25
	defaultQPS   = 1.0 / 300
)

// rateLimit is the most lines one token bucket lets through in elapsed: the burst, what
// refills meanwhile, and one for rounding.
func rateLimit(burst int, qps float64, elapsed time.Duration) int {
	return burst + int(qps*elapsed.Seconds()) + 1
}
