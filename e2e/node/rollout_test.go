package node

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
)

// TestRolloutRestart: after kubectl rollout restart the new Pods report under their own
// names and UIDs, and a line an old Pod logs while it shuts down (the *health* plugin's
// lame duck keeps it serving) is still reported, on the old Pod.
func TestRolloutRestart(t *testing.T) {
	setUp(t)
	old := readyPods(t)
	ctx := timeout(t, 3*time.Minute)
	if _, err := suite.node.Kubectl(ctx, "-n", namespace, "rollout", "restart", "deployment/"+deployment); err != nil {
		t.Fatal(err)
	}
	// An old Pod that is terminating still answers during its lame duck: once it says it
	// is in it, a failing query makes it log a line, which must still be reported.
	terminating, err := waitTerminating(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		log, err := suite.node.ContainerLog(terminating, "coredns")
		return err == nil && strings.Contains(log, "Going into lameduck mode"), nil
	})
	if err != nil {
		t.Fatalf("the terminating Pod %s did not go into its lame duck: %v", terminating.Name, err)
	}
	lameDuck := uniqueName(t)
	failQuery(t, terminating, lameDuck)

	fresh := readyPods(t)
	for _, p := range fresh {
		if slices.ContainsFunc(old, func(o corev1.Pod) bool { return o.UID == p.UID }) {
			t.Fatalf("Pod %s (%s) was not replaced", p.Name, p.UID)
		}
	}
	for _, p := range fresh {
		name := uniqueName(t)
		failQuery(t, &p, name)
		waitEvent(t, &p, "CoreDNSError", name, time.Minute)
	}
	waitEvent(t, terminating, "CoreDNSError", lameDuck, time.Minute)
}

// waitTerminating waits until one of pods is terminating and returns it, as it is then.
func waitTerminating(ctx context.Context, pods []corev1.Pod) (*corev1.Pod, error) {
	uids := map[types.UID]bool{}
	for _, p := range pods {
		uids[p.UID] = true
	}
	var found *corev1.Pod
	err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		list, err := suite.client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: "k8s-app=kube-dns"})
		if err != nil {
			return false, nil
		}
		for _, p := range list.Items {
			if uids[p.UID] && p.DeletionTimestamp != nil {
				found = &p
				return true, nil
			}
		}
		return false, nil
	})
	return found, err
}
