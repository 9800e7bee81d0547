package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// cluster is a control plane as the tests use it: the rights deploy/rbac.yaml gives
// ServiceAccount kube-system/coredns, and a kubeconfig with a token of it for CoreDNS.
type cluster struct {
	cp         *devenv.ControlPlane
	kubeconfig string // ServiceAccount kube-system/coredns
}

// setUpCluster applies deploy/rbac.yaml, then the manifests, and gets a token of the
// coredns ServiceAccount.
func setUpCluster(ctx context.Context, cp *devenv.ControlPlane, manifests ...string) (*cluster, error) {
	kubeconfig, err := cp.CoreDNSKubeconfig(ctx, append([]string{suite.paths.Deploy("rbac.yaml")}, manifests...)...)
	return &cluster{cp: cp, kubeconfig: kubeconfig}, err
}

// sharedCluster is the suite's cluster, which every test may use but none may change
// (its API server, its RBAC rules). It fails t when the suite could not start.
func sharedCluster(t *testing.T) *cluster {
	t.Helper()
	requireSuite(t)
	logOnFailure(t, suite.shared.cp)
	return suite.shared
}

// startOwnCluster sets up a cluster on a control plane of t's own, stopped when t ends:
// for a test that stops the API server or changes what CoreDNS may do.
func startOwnCluster(t *testing.T, manifests ...string) *cluster {
	t.Helper()
	return ownCluster(t, false, nil, manifests...)
}

// ownCluster is startOwnCluster with kube-apiserver options; with first, its set-up goes
// before the others waiting (see slots.acquire).
func ownCluster(t *testing.T, first bool, opts []devenv.Option, manifests ...string) *cluster {
	t.Helper()
	defer startSlots.acquire(t, first)()
	cp := launchControlPlane(t, opts...)
	var cl *cluster
	setUp(t, "applying "+strings.Join(append([]string{"deploy/rbac.yaml"}, manifests...), ", ")+" and getting a coredns token",
		func(ctx context.Context) (err error) {
			cl, err = setUpCluster(ctx, cp, manifests...)
			return err
		})
	return cl
}

// kubernetesRole is kubeadm's ClusterRole for the kubernetes plugin, for a cluster on
// which CoreDNS runs it. The shared cluster has not got it: it grants list pods too.
func kubernetesRole() string { return "testdata/kubernetes-clusterrole.yaml" }

// startControlPlane starts a bare control plane for t alone, stopped when t ends.
func startControlPlane(t *testing.T, opts ...devenv.Option) *devenv.ControlPlane {
	t.Helper()
	defer startSlots.acquire(t, false)()
	return launchControlPlane(t, opts...)
}

// launchControlPlane is startControlPlane for a caller that holds a set-up slot.
func launchControlPlane(t *testing.T, opts ...devenv.Option) *devenv.ControlPlane {
	t.Helper()
	requireSuite(t)
	var cp *devenv.ControlPlane
	setUp(t, "starting a control plane of the test's own", func(ctx context.Context) (err error) {
		cp, err = devenv.StartControlPlane(ctx, suite.paths.BinDir, opts...)
		return err
	})
	t.Cleanup(func() {
		if err := cp.Stop(); err != nil {
			t.Errorf("stopping the test's control plane: %v", err)
		}
	})
	logOnFailure(t, cp) // runs before the Stop above
	return cp
}

// logOnFailure prints the end of the control plane's logs if t fails.
func logOnFailure(t *testing.T, cp *devenv.ControlPlane) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("control plane logs:\n%s", cp.LogTail(40))
		}
	})
}

// kubeapi is the kubeapi plugin's directive: the API as the coredns ServiceAccount.
func (cl *cluster) kubeapi() string { return "kubeapi {\n    kubeconfig " + cl.kubeconfig + "\n}" }

// kubernetes is the kubernetes plugin's directive, as the coredns ServiceAccount.
func (cl *cluster) kubernetes() string {
	return "kubernetes cluster.local {\n    kubeconfig " + cl.kubeconfig + "\n}"
}

// podSeq keeps Pod names unique across the tests of one run.
var podSeq atomic.Int32

// newPod creates a CoreDNS Pod object named after the test, for this test alone.
func (cl *cluster) newPod(t *testing.T) *corev1.Pod {
	t.Helper()
	// A unique DNS-1123 name, from the test's.
	name := strings.Trim(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(t.Name()[:min(len(t.Name()), 50)])), "-")
	name = fmt.Sprintf("%s-%d", name, podSeq.Add(1))
	var pod *corev1.Pod
	setUp(t, "creating Pod "+name, func(ctx context.Context) (err error) {
		pod, err = cl.cp.CoreDNSPod(ctx, name)
		return err
	})
	return pod
}

// events lists, as the admin, the events on the Pod.
func (cl *cluster) events(t *testing.T, pod *corev1.Pod) []corev1.Event {
	t.Helper()
	evs, err := devenv.ListEvents(timeout(t, 10*time.Second), cl.cp.AdminClient(), pod.Namespace, pod.Name)
	if err != nil {
		t.Fatalf("list events: %v", err)
	}
	return evs
}

// waitEvents polls the Pod's events until cond holds for them, for at most d, and
// returns them.
func (cl *cluster) waitEvents(t *testing.T, pod *corev1.Pod, d time.Duration, what string, cond func([]corev1.Event) bool) []corev1.Event {
	t.Helper()
	evs, err := devenv.WaitEvents(timeout(t, d), cl.cp.AdminClient(), pod.Namespace, pod.Name, what, cond)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// waitEvent waits for an event with this reason and exact message, and returns it.
func (cl *cluster) waitEvent(t *testing.T, pod *corev1.Pod, reason, message string) corev1.Event {
	t.Helper()
	evs := cl.waitEvents(t, pod, eventTimeout, fmt.Sprintf("%s event %q", reason, message), func(evs []corev1.Event) bool {
		return len(matching(evs, reason, message)) > 0
	})
	return matching(evs, reason, message)[0]
}

// eventWithUID sends failing queries to addr, each with a name of its own, until the
// event of one carries the Pod's UID, for at most d, and returns that event: without
// COREDNS_POD_UID the plugin looks the UID up in the background, and a line reported
// before the lookup succeeds has none.
func (cl *cluster) eventWithUID(t *testing.T, pod *corev1.Pod, addr string, d time.Duration) corev1.Event {
	t.Helper()
	var ev corev1.Event
	eventually(t, d, "an event on the Pod with its UID", func() (bool, string) {
		name := fmt.Sprintf("uid-%d.example.org.", time.Now().UnixNano())
		failQuery(t, addr, name)
		evs, err := devenv.WaitEvents(timeout(t, 10*time.Second), cl.cp.AdminClient(), pod.Namespace, pod.Name, name,
			func(evs []corev1.Event) bool { return len(withMessage(evs, name)) > 0 })
		if err != nil {
			return false, err.Error()
		}
		ev = withMessage(evs, name)[0]
		return ev.InvolvedObject.UID == pod.UID, devenv.FormatEvents([]corev1.Event{ev})
	})
	return ev
}

// kubectl runs kubectl as the admin and returns its output.
func (cl *cluster) kubectl(t *testing.T, args ...string) string {
	t.Helper()
	var out string
	setUp(t, "kubectl "+strings.Join(args, " "), func(ctx context.Context) (err error) {
		out, err = cl.cp.Kubectl(ctx, args...)
		return err
	})
	return out
}

// waitCanCreateEvents waits until RBAC gives the coredns identity this answer to "may
// it create events in kube-system".
func (cl *cluster) waitCanCreateEvents(t *testing.T, want bool) {
	t.Helper()
	eventually(t, 30*time.Second, fmt.Sprintf("the coredns identity may create events: %v", want), func() (bool, string) {
		sar := &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
			User:               corednsUser,
			ResourceAttributes: &authzv1.ResourceAttributes{Namespace: devenv.CoreDNSNamespace, Verb: "create", Resource: "events"},
		}}
		got, err := cl.cp.AdminClient().AuthorizationV1().SubjectAccessReviews().Create(timeout(t, 10*time.Second), sar, metav1.CreateOptions{})
		if err != nil {
			return false, err.Error()
		}
		return got.Status.Allowed == want, fmt.Sprintf("allowed: %v", got.Status.Allowed)
	})
}

// corednsUser is the API user of the coredns ServiceAccount's tokens.
var corednsUser = devenv.ServiceAccountUser(devenv.CoreDNSNamespace, "coredns")
