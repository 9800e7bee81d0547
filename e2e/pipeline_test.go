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
// kubernetes plugin before k8s_event in the plugin order and no COREDNS_POD_UID, as on a
// kubeadm node whose control plane restarts. The kubernetes plugin's start-up warning,
// logged before k8s_event's OnStartup would run, becomes an event once the API is back.
// The API server comes back after 30 s, when the UID lookup's backoff is long, and every
// event then written (the lines of the outage, and a failing query's right after it)
// carries the Pod's UID. CoreDNS reaches kube-apiserver without the readiness gate, so
// it meets a starting API server as it is, refusing requests until it is ready.
func TestStartedWhileAPIServerDown(t *testing.T) {
	t.Parallel()
	cl := startOwnCluster(t, kubernetesRole())
	var err error
	if cl.kubeconfig, err = cl.cp.Ungated(cl.kubeconfig); err != nil {
		t.Fatal(err)
	}
	pod := cl.newPod(t)
	if err := cl.cp.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	// While the API is down, the kubernetes plugin also logs an error per failed watch:
	// a burst large enough for them all, so that the warning is not rate limited.
	launched := time.Now()
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
	// As in the report of issue 34: the API server is back about 30 s after the start,
	// the lookup then waiting up to 32 s for its next try.
	time.Sleep(time.Until(launched.Add(30 * time.Second)))
	restarted := time.Now() // CoreDNS may reach it before it is ready, and StartAPIServer returns
	setUp(t, "restarting kube-apiserver", cl.cp.StartAPIServer)
	failQuery(t, addr, "after-outage.example.org.")
	query := loggedMessage(t, c, "ERROR", "after-outage.example.org.")

	evs := cl.waitEvents(t, pod, 90*time.Second, "the start-up warning and the query after the outage as events", func(evs []corev1.Event) bool {
		return len(withMessage(evs, "plugin/kubernetes: starting server with unsynced Kubernetes API")) > 0 &&
			len(matching(evs, "", query)) > 0
	})
	t.Logf("start-up line %q became: %s", unsynced, devenv.FormatEvents(withMessage(evs, "unsynced")))

	// The API server was down from before CoreDNS started: every event on the Pod was
	// written after it came back. Those of the kubernetes plugin's lines still on their
	// way are given a moment.
	time.Sleep(2 * time.Second)
	evs = cl.events(t, pod)
	var noUID []corev1.Event
	for _, e := range evs {
		if e.InvolvedObject.UID != pod.UID {
			noUID = append(noUID, e)
		}
	}
	if len(noUID) > 0 {
		t.Errorf("%d of the %d events written after the API server came back lack the Pod's UID %s:\n%s",
			len(noUID), len(evs), pod.UID, devenv.FormatEvents(noUID))
	}
	t.Logf("%d events, all written after the API server came back; UID lookups since its restart: %d",
		len(evs), cl.uidLookups(t, restarted))
}

// uidLookups counts the Pod UID lookups of the coredns identity in the audit log (a list
// of Pods by name) received at since or later.
func (cl *cluster) uidLookups(t *testing.T, since time.Time) int {
	t.Helper()
	all, err := cl.cp.AuditEvents()
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	n := 0
	for _, e := range all {
		if e.User.Username == corednsUser && e.Verb == "list" && e.ObjectRef.Resource == "pods" &&
			strings.Contains(e.RequestURI, "fieldSelector=metadata.name") && !e.Received.Before(since) {
			n++
		}
	}
	return n
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
