package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// forbiddenQueries is how many failing queries each case sends.
const forbiddenQueries = 300

// TestWithoutEventPermission: when the coredns identity may not write events, DNS keeps
// answering, the delivery failure is logged a bounded number of times, CoreDNS does not
// crash, and the denied writes stay within the rate settings; with the kubernetes
// plugin loaded too.
//
// On a cluster of its own, whose Role lets CoreDNS look its Pod up but not write events.
// The cases run one after the other: each counts every event write the audit log holds
// since it began.
func TestWithoutEventPermission(t *testing.T) {
	t.Parallel()
	cl := startOwnCluster(t, kubernetesRole(), "testdata/no-events-role.yaml")
	cl.waitCanCreateEvents(t, false)

	t.Run("errors and forward", func(t *testing.T) {
		testWithoutEventPermission(t, cl)
	})
	t.Run("with the kubernetes plugin", func(t *testing.T) {
		testWithoutEventPermission(t, cl, cl.kubernetes())
	})
	t.Run("across reloads", func(t *testing.T) {
		testDeliveryLogAcrossReloads(t, cl)
	})
}

// deniedReloads is how many reloads testDeliveryLogAcrossReloads makes.
const deniedReloads = 5

// testDeliveryLogAcrossReloads: each reload starts a new reporter, and still the refused
// writes are logged at most once a minute for the whole process.
func testDeliveryLogAcrossReloads(t *testing.T, cl *cluster) {
	pod := cl.newPod(t)
	addr, metricsAddr, forward := freeAddr(t), freeAddr(t), failingForward(t)
	corefile := func(cacheTTL int) string {
		return serverBlock(rootZone(addr), "errors", fmt.Sprintf("cache %d", cacheTTL), forward,
			cl.kubeapi(), k8sEventDirective(), prometheusDirective(metricsAddr))
	}
	c := startCoreDNS(t, corefile(30), podEnv(pod, true)...)
	for i := range deniedReloads + 1 {
		if i > 0 {
			reload(t, c, corefile(30+i))
			waitOutput(t, c, reloadTimeout, fmt.Sprintf("reload %d", i), func(lines []string) bool {
				return countLines(lines, "[INFO] Reloading complete", "") == i
			})
		}
		failQuery(t, addr, fmt.Sprintf("reload-%d.example.org.", i))
		eventually(t, 10*time.Second, fmt.Sprintf("the write of line %d tried", i+1), func() (bool, string) {
			m := scrape(t, metricsAddr)
			return int(failedWrites(m)) == i+1, fmt.Sprintf("%v failed writes", failedWrites(m))
		})
	}
	drops := countLines(c.Lines(), "plugin/k8s_event: ", "event dropped")
	t.Logf("%d reloads, %d refused writes: %d event dropped lines", deniedReloads, deniedReloads+1, drops)
	if drops != 1 {
		t.Errorf("want the drops logged once, got %d lines", drops)
	}
}

func testWithoutEventPermission(t *testing.T, cl *cluster, extra ...string) {
	pod := cl.newPod(t)
	metricsAddr := freeAddr(t)
	began := time.Now()
	directives := append([]string{localZoneDirective(), k8sEventDirective(), prometheusDirective(metricsAddr)}, extra...)
	c, addr := startFailingUpstream(t, cl, podEnv(pod, false), directives...)
	var rec *recorder
	if len(extra) == 0 {
		rec = recordMetrics(t, metricsAddr, "rbac-denied",
			fmt.Sprintf("TestWithoutEventPermission, CoreDNS may not write events; %d failing queries from mark queries", forbiddenQueries))
		rec.mark("queries")
	}
	if len(extra) > 0 {
		// The kubernetes plugin answers from the API it can still read.
		r := expectRcode(t, addr, "kubernetes.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess)
		t.Logf("kubernetes plugin answered %v", r.Answer)
	}

	for i := range forbiddenQueries {
		failQuery(t, addr, fmt.Sprintf("denied-%d.example.org.", i))
		if err := localAnswer(addr, fmt.Sprintf("q%d.%s", i, localZone)); err != nil {
			t.Fatalf("local zone after %d failed queries: %v", i, err)
		}
	}
	waitOutput(t, c, 10*time.Second, fmt.Sprintf("%d errors lines", forbiddenQueries), func(lines []string) bool {
		return countLines(lines, "[ERROR] plugin/errors: ", "denied-") == forbiddenQueries
	})

	// Every line the token bucket let through is tried once, and refused.
	var admitted float64
	eventually(t, 30*time.Second, "every admitted line tried", func() (bool, string) {
		m := scrape(t, metricsAddr)
		admitted = m.Sum(metricLines) - m.Get(metricDropped, "reason", "rate_limited")
		tried := m.Sum(metricWrites)
		return tried >= admitted && admitted > 0, fmt.Sprintf("%v lines admitted, %v writes", admitted, tried)
	})
	elapsed := time.Since(began)
	m := scrape(t, metricsAddr)
	w := cl.waitAudit(t, int(m.Sum(metricWrites)), receivedSince(began))
	drops := countLines(c.Lines(), "plugin/k8s_event: ", "event dropped")
	limit := rateLimit(defaultBurst, defaultQPS, elapsed)
	t.Logf("after %v: %v lines, %v admitted, api_writes_total %v (%v failed); audit: %v writes (%v), %d denied; %d event dropped lines",
		elapsed.Round(time.Millisecond), m.Sum(metricLines), admitted, m.Sum(metricWrites), failedWrites(m),
		w.total(), w.byVerb, w.denied, drops)

	if w.denied == 0 || w.allowed != 0 {
		t.Errorf("audit log: want denied writes only, got %d denied, %d allowed", w.denied, w.allowed)
	}
	if w.total() > limit {
		t.Errorf("audit log: %d event writes, want at most %d (burst %d + refill)", w.total(), limit, defaultBurst)
	}
	if failed := failedWrites(m); failed != m.Sum(metricWrites) || failed != admitted || int(failed) != w.total() {
		t.Errorf("want one failed write per admitted line (%v), got api_writes_total %v (%v failed) and %d in the audit log",
			admitted, m.Sum(metricWrites), failed, w.total())
	}
	if most := 1 + int(elapsed/time.Minute); drops < 1 || drops > most {
		t.Errorf("want the drops logged at least once and at most once a minute (%d in %v), got %d lines",
			most, elapsed.Round(time.Second), drops)
	}
	if evs := cl.events(t, pod); len(evs) != 0 {
		t.Errorf("want no events, got:\n%s", devenv.FormatEvents(evs))
	}
	if exited, err := c.Exited(); exited {
		t.Fatalf("CoreDNS exited: %v", err)
	}
	if err := localAnswer(addr, "last."+localZone); err != nil {
		t.Fatal(err)
	}
	if rec != nil {
		rec.mark("tried")
		time.Sleep(recordTail)
		rec.finish()
	}
	if err := c.Stop(); err != nil {
		t.Errorf("CoreDNS did not stop cleanly: %v", err)
	}
}

// TestDeployRBAC: with deploy/rbac.yaml, the coredns ServiceAccount may write events in
// kube-system but not elsewhere, and find its Pod by name; the audit log records the
// refused write. Creating the Pod again returns the same one.
func TestDeployRBAC(t *testing.T) {
	t.Parallel()
	cl := sharedCluster(t)
	pod := cl.newPod(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", cl.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	c := kubernetes.NewForConfigOrDie(cfg)
	ctx := timeout(t, 30*time.Second)
	began := time.Now()
	for ns, wantForbidden := range map[string]bool{pod.Namespace: false, metav1.NamespaceDefault: true} {
		ev := &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{GenerateName: pod.Name + ".", Namespace: ns},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
			Reason:         "Test", Message: "written by TestDeployRBAC", Type: corev1.EventTypeNormal,
		}
		if _, err := c.CoreV1().Events(ns).Create(ctx, ev, metav1.CreateOptions{}); apierrors.IsForbidden(err) != wantForbidden || (err != nil && !wantForbidden) {
			t.Errorf("create an event in %s: %v, want forbidden: %v", ns, err, wantForbidden)
		}
	}
	list, err := c.CoreV1().Pods(pod.Namespace).List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + pod.Name})
	if err != nil || len(list.Items) != 1 || list.Items[0].UID != pod.UID {
		t.Errorf("list Pod %s by name: %v, %d pods, want exactly it", pod.Name, err, len(list.Items))
	}
	if again, err := cl.cp.CoreDNSPod(ctx, pod.Name); err != nil || again.UID != pod.UID {
		t.Errorf("CoreDNSPod again: %v, want the Pod with UID %s", err, pod.UID)
	}
	w := cl.waitAudit(t, 1, func(e devenv.AuditEvent) bool { return e.ObjectRef.Namespace == "default" && !e.Received.Before(began) })
	if w.denied != 1 {
		t.Errorf("audit log: want the refused create in default, got %v (%d denied)", w.byVerb, w.denied)
	}
}
