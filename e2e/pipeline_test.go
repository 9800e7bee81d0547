package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// ownCluster is a control plane of a test's own, for a test that stops its API server or
// changes its admission while the others run: the CoreDNS identity of deploy/rbac.yaml,
// and one CoreDNS Pod object.
type ownCluster struct {
	cp         *devenv.ControlPlane
	kubeconfig string // ServiceAccount kube-system/coredns
	pod        *corev1.Pod
}

func startOwnCluster(t *testing.T) *ownCluster {
	t.Helper()
	cp := startOwnControlPlane(t)
	ctx := timeout(t, 30*time.Second)
	// deploy/'s rights, and the kubernetes plugin's, so that it logs its start-up lines and
	// not refusals.
	if err := cp.Apply(ctx, suite.paths.Deploy("rbac.yaml"), suite.paths.Deploy("coredns-clusterrole.yaml")); err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := cp.ServiceAccountKubeconfig(ctx, devenv.CoreDNSNamespace, "coredns")
	if err != nil {
		t.Fatal(err)
	}
	pod, err := cp.CoreDNSPod(ctx, "coredns-own-1")
	if err != nil {
		t.Fatal(err)
	}
	return &ownCluster{cp: cp, kubeconfig: kubeconfig, pod: pod}
}

// startOwnControlPlane starts a control plane for t alone, stopped when t ends.
func startOwnControlPlane(t *testing.T) *devenv.ControlPlane {
	t.Helper()
	requireSuite(t)
	cp, err := devenv.StartControlPlane(suite.paths.BinDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("control plane logs:\n%s", cp.LogTail(40))
		}
		if err := cp.Stop(); err != nil {
			t.Errorf("stopping the test's control plane: %v", err)
		}
	})
	return cp
}

// kubernetes is the kubernetes plugin's directive, as the ServiceAccount.
func (o *ownCluster) kubernetes() string {
	return "kubernetes cluster.local {\n    kubeconfig " + o.kubeconfig + "\n}"
}

func (o *ownCluster) kubeapi() string { return "kubeapi {\n    kubeconfig " + o.kubeconfig + "\n}" }

// waitEvents polls the Pod's events until cond holds.
func (o *ownCluster) waitEvents(t *testing.T, d time.Duration, what string, cond func([]corev1.Event) bool) []corev1.Event {
	t.Helper()
	evs, err := devenv.WaitEvents(timeout(t, d), o.cp.AdminClient(), o.pod.Namespace, o.pod.Name, what, cond)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func withMessage(evs []corev1.Event, substr string) []corev1.Event {
	return slices.DeleteFunc(slices.Clone(evs), func(e corev1.Event) bool { return !strings.Contains(e.Message, substr) })
}

// TestStartedWhileAPIServerDown: CoreDNS starts while its API server is down, with the
// kubernetes plugin before k8s_event in the plugin order and no COREDNS_POD_UID. The
// kubernetes plugin's start-up warning, logged before k8s_event's OnStartup would run,
// becomes an event once the API is back, and later events carry the Pod's UID, which the
// plugin looked up when it could.
func TestStartedWhileAPIServerDown(t *testing.T) {
	t.Parallel()
	o := startOwnCluster(t)
	if err := o.cp.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	// While the API is down, the kubernetes plugin also logs an error per failed watch:
	// a burst large enough for them all, so that the warning is not rate limited.
	c := launchCoreDNS(t, serverBlock(rootZone(addr),
		"errors",
		failingForward(t),
		o.kubernetes(),
		o.kubeapi(),
		k8sEventDirective("rate 1 256"),
	), podEnv(o.pod, false)...)
	unsynced := waitLine(t, c, 30*time.Second, "the kubernetes plugin's start-up warning", func(l string) bool {
		return strings.Contains(l, "[WARNING] plugin/kubernetes: starting server with unsynced Kubernetes API")
	})
	if err := o.cp.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	evs := o.waitEvents(t, 90*time.Second, "the start-up warning as an event", func(evs []corev1.Event) bool {
		return len(withMessage(evs, "plugin/kubernetes: starting server with unsynced Kubernetes API")) > 0
	})
	t.Logf("start-up line %q became: %s", unsynced, devenv.FormatEvents(withMessage(evs, "unsynced")))

	// The lookup is retried with backoff (at most a minute apart): a line logged once it
	// succeeded carries the UID.
	eventually(t, 90*time.Second, "an event on the Pod with its UID", func() (bool, string) {
		name := fmt.Sprintf("after-start-%d.example.org.", time.Now().UnixNano())
		failQuery(t, addr, name)
		evs, err := devenv.WaitEvents(timeout(t, 10*time.Second), o.cp.AdminClient(), o.pod.Namespace, o.pod.Name, name,
			func(evs []corev1.Event) bool { return len(withMessage(evs, name)) > 0 })
		if err != nil {
			return false, err.Error()
		}
		e := withMessage(evs, name)[0]
		return e.InvolvedObject.UID == o.pod.UID, fmt.Sprintf("event with UID %q", e.InvolvedObject.UID)
	})
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

// warnings collects the Warning headers a client gets.
type warnings struct{ got chan string }

func (w warnings) HandleWarningHeader(_ int, _ string, msg string) {
	select {
	case w.got <- msg:
	default:
	}
}

// TestAPIWarningsAreNotReported: with a ValidatingAdmissionPolicy in Warn mode on events,
// one failing query gives one event write, the warning is printed under plugin/k8s_event,
// and no event quotes it (it would, through the kubernetes plugin's klog redirection).
func TestAPIWarningsAreNotReported(t *testing.T) {
	t.Parallel()
	o := startOwnCluster(t)
	policy := filepath.Join(t.TempDir(), "warn-on-events.yaml")
	if err := os.WriteFile(policy, []byte(warnOnEvents), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := o.cp.Apply(timeout(t, 30*time.Second), policy); err != nil {
		t.Fatal(err)
	}
	waitForWarning(t, o.cp)

	addr, metricsAddr := freeAddr(t), freeAddr(t)
	c := startCoreDNS(t, serverBlock(rootZone(addr),
		"errors",
		failingForward(t),
		o.kubernetes(),
		o.kubeapi(),
		k8sEventDirective("level info warning error"),
		prometheusDirective(metricsAddr),
	), podEnv(o.pod, true)...)
	// The kubernetes plugin's start-up lines are reported too: let them go out first.
	time.Sleep(3 * time.Second)
	start, linesBefore := time.Now(), scrape(t, metricsAddr).Sum("coredns_k8s_event_lines_total")
	failQuery(t, addr, "audited.example.org.")
	o.waitEvents(t, eventTimeout, "the failing query's event", func(evs []corev1.Event) bool {
		return len(withMessage(evs, "audited.example.org.")) == 1
	})
	time.Sleep(3 * time.Second) // time for a warning to come back as a line, and an event

	evs := o.waitEvents(t, eventTimeout, "events", func([]corev1.Event) bool { return true })
	if quoting := withMessage(evs, "events are audited"); len(quoting) > 0 {
		t.Errorf("events quote the API's warning:\n%s", devenv.FormatEvents(quoting))
	}
	writes := 0
	aud, err := o.cp.AuditEvents()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range aud {
		if e.ObjectRef.Resource == "events" && (e.Verb == "create" || e.Verb == "patch") &&
			e.User.Username == devenv.ServiceAccountUser(devenv.CoreDNSNamespace, "coredns") && e.Received.After(start) {
			writes++
		}
	}
	if writes != 1 {
		t.Errorf("%d event writes for one failing query, want 1:\n%s", writes, devenv.FormatEvents(evs))
	}
	if n := countLines(c.Lines(), "plugin/k8s_event: ", "events are audited"); n == 0 {
		t.Errorf("the API's warning was not printed under plugin/k8s_event:\n%s", c.Tail(30))
	}
	if lines := scrape(t, metricsAddr).Sum("coredns_k8s_event_lines_total") - linesBefore; lines != 1 {
		t.Errorf("%v lines selected after one failing query, want 1: the API's warning came back as a line:\n%s", lines, c.Tail(20))
	}
}

// waitForWarning waits until the admission policy warns on an event write (it takes a
// few seconds to be in force).
func waitForWarning(t *testing.T, cp *devenv.ControlPlane) {
	t.Helper()
	cfg := cp.AdminConfig()
	w := warnings{got: make(chan string, 1)}
	cfg.WarningHandler = w
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{GenerateName: "probe-", Namespace: devenv.CoreDNSNamespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: devenv.CoreDNSNamespace, Name: "probe"}}
	eventually(t, 30*time.Second, "the admission policy's warning", func() (bool, string) {
		_, err := client.CoreV1().Events(devenv.CoreDNSNamespace).Create(timeout(t, 10*time.Second), ev, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		select {
		case <-w.got:
			return true, ""
		default:
			return false, fmt.Sprint("no warning yet, err ", err)
		}
	})
}

var _ rest.WarningHandler = warnings{}

// TestManyReloadsOneEventPerLine: 50 reloads (SIGUSR1) alternating between two settings,
// then one that fails, with a failing query after each: every line is reported exactly
// once (the Counts of the error events add up to the lines logged), and the failed
// reload leaves the running settings reporting.
func TestManyReloadsOneEventPerLine(t *testing.T) {
	pod := newPod(t)
	addr := freeAddr(t)
	forward := failingForward(t)
	corefile := func(settings string, i int) string {
		return serverBlock(rootZone(addr), "errors", forward, kubeapiDirective(), k8sEventDirective(settings)) + fmt.Sprintf("# %d\n", i)
	}
	c := startCoreDNS(t, corefile("rate 1 256", 0), podEnv(pod, true)...)
	lines := 0
	for i := range 50 {
		settings := []string{"rate 1 256", "level error\n    rate 1 256 1024"}[i%2]
		if err := c.WriteCorefile(corefile(settings, i+1)); err != nil {
			t.Fatal(err)
		}
		if err := c.Signal(syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		waitOutput(t, c, 20*time.Second, fmt.Sprintf("reload %d", i+1), func(l []string) bool {
			return countLines(l, "[INFO] ", "Reloading complete") >= i+1
		})
		failQuery(t, addr, fmt.Sprintf("after-reload-%d.example.org.", i))
		lines++
	}
	if err := c.WriteCorefile(corefile("level nonsense", 51)); err != nil {
		t.Fatal(err)
	}
	if err := c.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, c, 20*time.Second, "the failed reload", func(l []string) bool { return countLines(l, "[ERROR] ", "nonsense") > 0 })
	failQuery(t, addr, "after-failed-reload.example.org.")
	lines++

	evs := waitEvents(t, pod, 60*time.Second, fmt.Sprintf("error events adding up to %d lines", lines), func(evs []corev1.Event) bool {
		return totalCount(withReason(evs, reasonError)) >= lines
	})
	time.Sleep(2 * time.Second) // a duplicate would show now
	evs = podEvents(t, pod)
	if got := totalCount(withReason(evs, reasonError)); got != lines {
		t.Errorf("error events count %d lines, want exactly %d:\n%s", got, lines, devenv.FormatEvents(evs))
	}
	if len(withMessage(evs, "after-failed-reload.example.org.")) == 0 && len(withMessage(evs, combinedPrefix)) == 0 {
		t.Errorf("the line after the failed reload was not reported:\n%s", devenv.FormatEvents(evs))
	}
}

// TestOutageLongerThanClientGoRetries: kube-apiserver down for 160 s, longer than
// client-go's own retries (12 tries 10 s apart); distinct failing queries meanwhile.
// Once it is back, every line becomes an event within a minute, stamped with when it
// was logged. It runs beside the others: its API server's port is never given out
// again while it is down (devenv.StartControlPlane).
func TestOutageLongerThanClientGoRetries(t *testing.T) {
	t.Parallel()
	const longOutage = 160 * time.Second
	o := startOwnCluster(t)
	addr, metricsAddr := freeAddr(t), freeAddr(t)
	c := startCoreDNS(t, serverBlock(rootZone(addr),
		"errors",
		failingForward(t),
		o.kubeapi(),
		k8sEventDirective(),
		prometheusDirective(metricsAddr),
	), podEnv(o.pod, true)...)
	failQuery(t, addr, "before-outage.example.org.")
	o.waitEvents(t, eventTimeout, "the event before the outage", func(evs []corev1.Event) bool {
		return len(withMessage(evs, "before-outage.example.org.")) == 1
	})

	if err := o.cp.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	logged := map[string]time.Time{}
	for i := range 4 {
		time.Sleep(time.Until(down.Add(time.Duration(i) * longOutage / 4)))
		name := fmt.Sprintf("during-outage-%d.example.org.", i)
		logged[name] = time.Now()
		failQuery(t, addr, name)
	}
	time.Sleep(time.Until(down.Add(longOutage)))
	if err := o.cp.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	recovered := time.Now()
	evs := o.waitEvents(t, time.Minute, "an event for every line logged during the outage", func(evs []corev1.Event) bool {
		for name := range logged {
			if len(withMessage(evs, name)) == 0 {
				return false
			}
		}
		return true
	})
	t.Logf("API server down %v; the %d lines arrived %v after it was back", recovered.Sub(down).Round(time.Second), len(logged), time.Since(recovered).Round(time.Millisecond))
	for name, at := range logged {
		e := withMessage(evs, name)[0]
		if d := e.LastTimestamp.Sub(at); d < -time.Second || d > 5*time.Second {
			t.Errorf("%q stamped %v, logged %v: want when it was logged", name, e.LastTimestamp.Time, at)
		}
	}
	m := scrape(t, metricsAddr)
	if d := m.Sum("coredns_k8s_event_dropped_total") - m.Get("coredns_k8s_event_dropped_total", "reason", "rate_limited"); d != 0 {
		t.Errorf("%v admitted lines dropped", d)
	}
	t.Logf("%d delivery lines printed; api_writes_total %v", countLines(c.Lines(), "plugin/k8s_event: ", ""), m.Sum("coredns_k8s_event_api_writes_total"))
}
