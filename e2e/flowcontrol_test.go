package e2e

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	corev1 "k8s.io/api/core/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// The names of API Priority and Fairness objects the flow control test reads: deploy/
// flowcontrol/'s, and those of the suggested configuration that would take CoreDNS's
// requests without it (k8s.io/apiserver, flowcontrol bootstrap).
const (
	flowControlName       = "coredns-k8s-event"
	kubeSystemSASchema    = "kube-system-service-accounts"
	kubeSystemSALevel     = "workload-high"
	controllerSA          = "deployment-controller"
	apfDispatchedRequests = "apiserver_flowcontrol_dispatched_requests_total"
	apfRejectedRequests   = "apiserver_flowcontrol_rejected_requests_total"
	apfNominalSeats       = "apiserver_flowcontrol_nominal_limit_seats"
)

// TestFlowControl: deploy/flowcontrol/, applied with the README's command, takes the
// plugin's event writes, creates and patches, to its own priority level, and nothing
// else: neither CoreDNS's other requests (the Pod UID lookup) nor a kube-system
// controller's, its event writes included, which stay in kube-system-service-accounts
// and workload-high. The plugin's responses are not visible to the test, so the proof is
// the API server's: its APF metrics, by FlowSchema and priority level, against its audit
// log, by user. The controller's own responses carry the classification in their
// headers.
func TestFlowControl(t *testing.T) {
	t.Parallel()
	cl := ownCluster(t, false, nil, "testdata/controller-rbac.yaml")
	before, err := cl.cp.APIServerMetrics(timeout(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("before: nominal seats of %s %v", kubeSystemSALevel, before.Get(apfNominalSeats, "priority_level", kubeSystemSALevel))
	cmds, err := devenv.ReadmeCommands(suite.paths.Root, devenv.ReadmeFlowControl)
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range cmds {
		runFlowControlCommand(t, cl, cmd)
	}
	ours := waitFlowSchema(t, cl, flowControlName)
	theirs := waitFlowSchema(t, cl, kubeSystemSASchema)
	if ours.Spec.MatchingPrecedence >= theirs.Spec.MatchingPrecedence {
		t.Errorf("FlowSchema %s has matching precedence %d, the API server's %s %d: it would never match first",
			ours.Name, ours.Spec.MatchingPrecedence, theirs.Name, theirs.Spec.MatchingPrecedence)
	}
	if ours.Spec.PriorityLevelConfiguration.Name != flowControlName || theirs.Spec.PriorityLevelConfiguration.Name != kubeSystemSALevel {
		t.Fatalf("FlowSchema %s leads to %q, %s to %q: want %q and %q", ours.Name, ours.Spec.PriorityLevelConfiguration.Name,
			theirs.Name, theirs.Spec.PriorityLevelConfiguration.Name, flowControlName, kubeSystemSALevel)
	}

	// CoreDNS without COREDNS_POD_UID, so that it also lists Pods (its UID lookup): a
	// request of the coredns ServiceAccount that is not an event write. Each query logs a
	// line of its own; from the 10th, client-go's correlator combines them into one event,
	// which the next ones patch.
	pod := cl.newPod(t)
	c, addr := startFailingUpstream(t, cl, podEnv(pod, false), k8sEventDirective())
	const lines = 12
	for i := range lines {
		failQuery(t, addr, fmt.Sprintf("apf-%d.example.org.", i))
	}
	cl.waitEvents(t, pod, eventTimeout, fmt.Sprintf("%d lines' events, the last ones combined into one event patched", lines), func(evs []corev1.Event) bool {
		combined := withMessage(evs, combinedPrefix)
		return totalCount(evs) >= lines && len(combined) == 1 && combined[0].Count >= 2
	})
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}

	level, err := cl.cp.AdminClient().FlowcontrolV1().PriorityLevelConfigurations().Get(timeout(t, 10*time.Second), kubeSystemSALevel, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	controller := controllerRequests(t, cl, pod, devenv.Classification{FlowSchema: string(theirs.UID), PriorityLevel: string(level.UID)})

	// With CoreDNS stopped and the controller done, the API server's counts settle: its
	// metrics count a request when dispatched, its audit log when answered.
	var last string
	eventually(t, 15*time.Second, "APF's counts by FlowSchema and priority level to match the audit log's by user", func() (bool, string) {
		m, err := cl.cp.APIServerMetrics(timeout(t, 10*time.Second))
		if err != nil {
			return false, err.Error()
		}
		audit, err := cl.cp.AuditEvents()
		if err != nil {
			return false, err.Error()
		}
		var writes, otherCoreDNS, otherKubeSystem int
		verbs := map[string]int{}
		for _, e := range audit {
			switch user := e.User.Username; {
			case user == corednsUser && e.ObjectRef.Resource == "events" && (e.Verb == "create" || e.Verb == "patch"):
				writes++
				verbs[e.Verb]++
			case user == corednsUser:
				otherCoreDNS++
			case strings.HasPrefix(user, "system:serviceaccount:kube-system:"):
				otherKubeSystem++
			}
		}
		inOurs := apfCount(m, flowControlName, flowControlName)
		inOurLevel := apfCount(m, "", flowControlName)
		inTheirs := apfCount(m, kubeSystemSASchema, kubeSystemSALevel)
		last = fmt.Sprintf("audit log: coredns's event writes %d %v, its other requests %d, other kube-system ServiceAccounts' %d; "+
			"APF: %s→%s %d, all of %s %d, %s→%s %d; nominal seats: %s %v, %s %v",
			writes, verbs, otherCoreDNS, otherKubeSystem, flowControlName, flowControlName, inOurs, flowControlName, inOurLevel,
			kubeSystemSASchema, kubeSystemSALevel, inTheirs,
			flowControlName, m.Get(apfNominalSeats, "priority_level", flowControlName),
			kubeSystemSALevel, m.Get(apfNominalSeats, "priority_level", kubeSystemSALevel))
		return verbs["create"] > 0 && verbs["patch"] > 0 && otherCoreDNS > 0 && otherKubeSystem == controller &&
			inOurs == writes && inOurLevel == writes && inTheirs == otherCoreDNS+otherKubeSystem, last
	})
	t.Log(last)

	runFlowControlCommand(t, cl, readmeFlowControlUninstall(t))
	fc := cl.cp.AdminClient().FlowcontrolV1()
	_, fsErr := fc.FlowSchemas().Get(timeout(t, 10*time.Second), flowControlName, metav1.GetOptions{})
	_, plErr := fc.PriorityLevelConfigurations().Get(timeout(t, 10*time.Second), flowControlName, metav1.GetOptions{})
	if !apierrors.IsNotFound(fsErr) || !apierrors.IsNotFound(plErr) {
		t.Errorf("after the uninstall: FlowSchema %v, PriorityLevelConfiguration %v: want both not found", fsErr, plErr)
	}
}

// runFlowControlCommand runs a command of the README's Flow control as the admin.
func runFlowControlCommand(t *testing.T, cl *cluster, cmd string) {
	t.Helper()
	setUp(t, "the README's command "+cmd, func(ctx context.Context) error {
		out, err := suite.paths.RunCommand(ctx, cl.cp.AdminKubeconfig(), cmd, nil)
		t.Logf("%s\n%s", cmd, strings.TrimSpace(out))
		return err
	})
}

// readmeFlowControlUninstall is the uninstall command that the README's Flow control
// gives in its text, after the install's block.
func readmeFlowControlUninstall(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(suite.paths.Root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(data), "\n"+devenv.ReadmeFlowControl+"\n")
	section, _, _ = strings.Cut(section, "\n#")
	const uninstall = "kubectl delete -k deploy/flowcontrol/"
	if !strings.Contains(section, "`"+uninstall+"`") {
		t.Fatalf("README.md's %s does not give the uninstall command %s", devenv.ReadmeFlowControl, uninstall)
	}
	return uninstall
}

// waitFlowSchema waits until the API server has taken FlowSchema name into its
// configuration (its status says whether its priority level exists: Dangling), and
// returns it.
func waitFlowSchema(t *testing.T, cl *cluster, name string) *flowcontrolv1.FlowSchema {
	t.Helper()
	var fs *flowcontrolv1.FlowSchema
	eventually(t, 30*time.Second, "FlowSchema "+name+" in effect (condition Dangling False)", func() (bool, string) {
		var err error
		fs, err = cl.cp.AdminClient().FlowcontrolV1().FlowSchemas().Get(timeout(t, 10*time.Second), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, c := range fs.Status.Conditions {
			if c.Type == flowcontrolv1.FlowSchemaConditionDangling {
				return c.Status == flowcontrolv1.ConditionFalse, fmt.Sprintf("Dangling %s: %s", c.Status, c.Message)
			}
		}
		return false, "no Dangling condition yet"
	})
	return fs
}

// controllerRequests makes the requests of a kube-controller-manager controller, as
// ServiceAccount kube-system/deployment-controller: get, list and patch Pods, create an
// event and patch it. Each response must carry the expected classification. It returns
// how many requests it made.
func controllerRequests(t *testing.T, cl *cluster, pod *corev1.Pod, expected devenv.Classification) int {
	t.Helper()
	var kubeconfig string
	setUp(t, "a token of ServiceAccount kube-system/"+controllerSA, func(ctx context.Context) (err error) {
		kubeconfig, err = cl.cp.ServiceAccountKubeconfig(ctx, devenv.CoreDNSNamespace, controllerSA)
		return err
	})
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	var rec devenv.ClassificationRecorder
	cfg.Wrap(rec.Wrap)
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := timeout(t, 30*time.Second)
	pods, events := client.CoreV1().Pods(pod.Namespace), client.CoreV1().Events(pod.Namespace)
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: pod.Name + ".controller-", Namespace: pod.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Reason:         "ScalingReplicaSet", Message: "a controller's event", Type: corev1.EventTypeNormal, Count: 1,
		Source: corev1.EventSource{Component: controllerSA},
	}
	steps := []func() error{
		func() error { _, err := pods.Get(ctx, pod.Name, metav1.GetOptions{}); return err },
		func() error { _, err := pods.List(ctx, metav1.ListOptions{}); return err },
		func() error {
			_, err := pods.Patch(ctx, pod.Name, types.MergePatchType, []byte(`{"metadata":{"labels":{"e2e-controller":"seen"}}}`), metav1.PatchOptions{})
			return err
		},
		func() error { ev, err = events.Create(ctx, ev, metav1.CreateOptions{}); return err },
		func() error {
			_, err := events.Patch(ctx, ev.Name, types.StrategicMergePatchType, []byte(`{"count":2}`), metav1.PatchOptions{})
			return err
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("the controller's request %d: %v", i+1, err)
		}
	}
	if got, want := rec.Seen(), map[devenv.Classification]int{expected: len(steps)}; !maps.Equal(got, want) {
		t.Errorf("the controller's responses were classified %v, want all %d by %s into %s: %v",
			got, len(steps), kubeSystemSASchema, kubeSystemSALevel, want)
	}
	return len(steps)
}

// apfCount is how many requests API Priority and Fairness classified into priority level
// pl, by FlowSchema fs or, if fs is "", by any: dispatched, or rejected (429, for any
// reason).
func apfCount(m devenv.Metrics, fs, pl string) int {
	n := 0.0
	for series, v := range m {
		if (strings.HasPrefix(series, apfDispatchedRequests+"{") || strings.HasPrefix(series, apfRejectedRequests+"{")) &&
			strings.Contains(series, fmt.Sprintf("priority_level=%q", pl)) &&
			(fs == "" || strings.Contains(series, fmt.Sprintf("flow_schema=%q", fs))) {
			n += v
		}
	}
	return int(n)
}
