package e2e

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	corev1 "k8s.io/api/core/v1"
)

// eventTimeout bounds the wait for an event CoreDNS is expected to write.
const eventTimeout = 30 * time.Second

// Event reasons by CoreDNS log level.
const (
	reasonInfo    = "CoreDNSInfo"
	reasonWarning = "CoreDNSWarning"
	reasonError   = "CoreDNSError"
	reasonFatal   = "CoreDNSFatal"
)

// combinedPrefix starts the message of an event client-go aggregated from similar ones.
const combinedPrefix = "(combined from similar events): "

// nodeName is what the tests give CoreDNS as COREDNS_NODE_NAME.
const nodeName = "e2e-node"

// podSeq keeps Pod names unique across the tests of one run.
var podSeq atomic.Int32

// newPod applies the manifests (deploy/rbac.yaml if none) and creates a CoreDNS Pod
// object named after the test, for this test alone. If the test fails, the end of the
// control plane's logs is printed.
func newPod(t *testing.T, manifests ...string) *corev1.Pod {
	t.Helper()
	cp := requireSuite(t)
	if len(manifests) == 0 {
		manifests = []string{suite.paths.Deploy("rbac.yaml")}
	}
	ctx := timeout(t, 30*time.Second)
	if err := cp.Apply(ctx, manifests...); err != nil {
		t.Fatal(err)
	}
	// A unique DNS-1123 name, from the test's.
	name := strings.Trim(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(t.Name()[:min(len(t.Name()), 50)])), "-")
	pod, err := cp.CoreDNSPod(ctx, fmt.Sprintf("%s-%d", name, podSeq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("control plane logs:\n%s", cp.LogTail(40))
		}
	})
	return pod
}

// podEnv is the Downward API environment a CoreDNS Pod would have. Without withUID the
// plugin has to look the UID up.
func podEnv(pod *corev1.Pod, withUID bool) []string {
	env := []string{"COREDNS_POD_NAME=" + pod.Name, "COREDNS_NAMESPACE=" + pod.Namespace, "COREDNS_NODE_NAME=" + nodeName}
	if withUID {
		env = append(env, "COREDNS_POD_UID="+string(pod.UID))
	}
	return env
}

// podEvents lists, as the admin, the events on the Pod.
func podEvents(t *testing.T, pod *corev1.Pod) []corev1.Event {
	t.Helper()
	evs, err := devenv.ListEvents(timeout(t, 10*time.Second), suite.cp.AdminClient(), pod.Namespace, pod.Name)
	if err != nil {
		t.Fatalf("list events: %v", err)
	}
	return evs
}

// waitEvents polls the Pod's events until cond holds for them, and returns them.
func waitEvents(t *testing.T, pod *corev1.Pod, d time.Duration, what string, cond func([]corev1.Event) bool) []corev1.Event {
	t.Helper()
	evs, err := devenv.WaitEvents(timeout(t, d), suite.cp.AdminClient(), pod.Namespace, pod.Name, what, cond)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// waitEvent waits for an event with this reason and exact message, and returns it.
func waitEvent(t *testing.T, pod *corev1.Pod, reason, message string) corev1.Event {
	t.Helper()
	evs := waitEvents(t, pod, eventTimeout, fmt.Sprintf("%s event %q", reason, message), func(evs []corev1.Event) bool {
		return len(matching(evs, reason, message)) > 0
	})
	return matching(evs, reason, message)[0]
}

// matching returns the events with this reason (any if "") and exact message.
func matching(evs []corev1.Event, reason, message string) []corev1.Event {
	return slices.DeleteFunc(slices.Clone(evs), func(e corev1.Event) bool {
		return reason != "" && e.Reason != reason || e.Message != message
	})
}

// withReason returns the events with this reason.
func withReason(evs []corev1.Event, reason string) []corev1.Event {
	return slices.DeleteFunc(slices.Clone(evs), func(e corev1.Event) bool { return e.Reason != reason })
}

// totalCount adds up the Count of the events: how many lines they stand for.
func totalCount(evs []corev1.Event) int {
	n := 0
	for _, e := range evs {
		n += int(e.Count)
	}
	return n
}

// checkEvent checks everything about an event but its message and count: it is on the
// Pod (with its UID) in the Pod's namespace, from CoreDNS on the node, of the type its
// reason implies.
func checkEvent(t *testing.T, e corev1.Event, pod *corev1.Pod, reason string) {
	t.Helper()
	wantType := corev1.EventTypeWarning
	if reason == reasonInfo {
		wantType = corev1.EventTypeNormal
	}
	io := e.InvolvedObject
	got := []string{e.Namespace, io.Kind, io.APIVersion, io.Name, io.Namespace, string(io.UID), e.Reason, e.Type, e.Source.Component, e.Source.Host}
	want := []string{pod.Namespace, "Pod", "v1", pod.Name, pod.Namespace, string(pod.UID), reason, wantType, "CoreDNS", nodeName}
	if !slices.Equal(got, want) {
		t.Errorf("event %s (%q): namespace, involvedObject kind, apiVersion, name, namespace, uid, reason, type, source component, host:\n got  %q\n want %q",
			e.Name, e.Message, got, want)
	}
}
