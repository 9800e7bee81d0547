package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// TestStartedWhileAPIServerDown: CoreDNS starts while its API server is down, with the
// kubernetes plugin before k8s_event in the plugin order and no COREDNS_POD_UID. The
// kubernetes plugin's start-up warning, logged before k8s_event's OnStartup would run,
// becomes an event once the API is back, and later events carry the Pod's UID, which the
// plugin looked up when it could.
func TestStartedWhileAPIServerDown(t *testing.T) {
	t.Parallel()
	cl := startOwnCluster(t, kubernetesRole())
	pod := cl.newPod(t)
	if err := cl.cp.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	// While the API is down, the kubernetes plugin also logs an error per failed watch:
	// a burst large enough for them all, so that the warning is not rate limited.
	c := launchCoreDNS(t, serverBlock(rootZone(addr),
		"errors",
		failingForward(t),
		cl.kubernetes(),
		cl.kubeapi(),
		k8sEventDirective("rate 1 256"),
	), podEnv(pod, false)...)
	unsynced := waitLine(t, c, 30*time.Second, "the kubernetes plugin's start-up warning", func(l string) bool {
		return strings.Contains(l, "[WARNING] plugin/kubernetes: starting server with unsynced Kubernetes API")
	})
	setUp(t, "restarting kube-apiserver", cl.cp.StartAPIServer)
	evs := cl.waitEvents(t, pod, 90*time.Second, "the start-up warning as an event", func(evs []corev1.Event) bool {
		return len(withMessage(evs, "plugin/kubernetes: starting server with unsynced Kubernetes API")) > 0
	})
	t.Logf("start-up line %q became: %s", unsynced, devenv.FormatEvents(withMessage(evs, "unsynced")))

	// The lookup is retried with backoff (at most a minute apart): a line logged once it
	// succeeded carries the UID.
	cl.eventWithUID(t, pod, addr, 90*time.Second)
}

// warnOnEvents is a ValidatingAdmissionPolicy that warns on every event write, as an
// audit policy in Warn mode does.
const warnOnEvents = `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: warn-on-events
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE", "UPDATE"]
      resources: ["events"]
  validations:
  - expression: "false"
    message: "k8s-event-e2e: events are audited"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: warn-on-events
spec:
  policyName: warn-on-events
  validationActions: [Warn]
`

// TestAPIWarningsAreNotReported: with a ValidatingAdmissionPolicy in Warn mode on events,
// one failing query gives one event write, the warning is printed under plugin/k8s_event,
// and no event quotes it (it would, through the kubernetes plugin's klog redirection).
func TestAPIWarningsAreNotReported(t *testing.T) {
	t.Parallel()
	cl := startOwnCluster(t, kubernetesRole())
	pod := cl.newPod(t)
	policy := filepath.Join(t.TempDir(), "warn-on-events.yaml")
	if err := os.WriteFile(policy, []byte(warnOnEvents), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cl.cp.Apply(setUpContext(t), policy); err != nil {
		t.Fatal(err)
	}
	waitForWarning(t, cl.cp)

	metricsAddr := freeAddr(t)
	c, addr := startFailingUpstream(t, cl, podEnv(pod, true), cl.kubernetes(), k8sEventDirective("level info warning error"), prometheusDirective(metricsAddr))
	// The kubernetes plugin's start-up lines are reported too: let them go out first.
	time.Sleep(3 * time.Second)
	start, linesBefore := time.Now(), scrape(t, metricsAddr).Sum(metricLines)
	failQuery(t, addr, "audited.example.org.")
	cl.waitEvents(t, pod, eventTimeout, "the failing query's event", func(evs []corev1.Event) bool {
		return len(withMessage(evs, "audited.example.org.")) == 1
	})
	time.Sleep(3 * time.Second) // time for a warning to come back as a line, and an event

	evs := cl.events(t, pod)
	if quoting := withMessage(evs, "events are audited"); len(quoting) > 0 {
		t.Errorf("events quote the API's warning:\n%s", devenv.FormatEvents(quoting))
	}
	if w := cl.waitAudit(t, 1, receivedSince(start)); w.total() != 1 {
		t.Errorf("%d event writes for one failing query, want 1 (%v):\n%s", w.total(), w.byVerb, devenv.FormatEvents(evs))
	}
	if n := countLines(c.Lines(), "plugin/k8s_event: ", "events are audited"); n == 0 {
		t.Errorf("the API's warning was not printed under plugin/k8s_event:\n%s", c.Tail(30))
	}
	if lines := scrape(t, metricsAddr).Sum(metricLines) - linesBefore; lines != 1 {
		t.Errorf("%v lines selected after one failing query, want 1: the API's warning came back as a line:\n%s", lines, c.Tail(20))
	}
}

// waitForWarning waits until the admission policy warns on an event write (it takes a
// few seconds to be in force).
func waitForWarning(t *testing.T, cp *devenv.ControlPlane) {
	t.Helper()
	cfg := cp.AdminConfig()
	var warned strings.Builder // written during the request that gets the warning
	cfg.WarningHandler = rest.NewWarningWriter(&warned, rest.WarningWriterOptions{})
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{GenerateName: "probe-", Namespace: devenv.CoreDNSNamespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: devenv.CoreDNSNamespace, Name: "probe"}}
	eventually(t, 30*time.Second, "the admission policy's warning", func() (bool, string) {
		_, err := client.CoreV1().Events(devenv.CoreDNSNamespace).Create(timeout(t, 10*time.Second), ev, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return warned.Len() > 0, fmt.Sprint("no warning yet, err ", err)
	})
}
