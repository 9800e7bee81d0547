package node

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
)

// TestClusterDNS: both replicas of CoreDNS with the plugin are Ready, and a Pod resolves
// kubernetes.default through kube-dns, as any Pod of the cluster does.
func TestClusterDNS(t *testing.T) {
	setUp(t)
	pods := readyPods(t)
	if len(pods) != replicas {
		t.Fatalf("%d CoreDNS Pods, want %d", len(pods), replicas)
	}
	ctx := timeout(t, 2*time.Minute)
	client := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "dns-client", Namespace: "default"},
		Spec: corev1.PodSpec{
			RestartPolicy:                corev1.RestartPolicyNever,
			AutomountServiceAccountToken: ptr.To(false),
			Containers: []corev1.Container{{
				Name: "probe", Image: suite.images.Probe.Name, ImagePullPolicy: corev1.PullNever,
				Args: []string{"kubernetes.default"},
			}},
		},
	}
	pods0 := suite.client.CoreV1().Pods("default")
	if _, err := pods0.Create(ctx, client, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pods0.Delete(context.Background(), client.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	})
	var p *corev1.Pod
	err := wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		var err error
		p, err = pods0.Get(ctx, client.Name, metav1.GetOptions{})
		return err == nil && (p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed), nil
	})
	if err != nil {
		t.Fatalf("the client Pod did not finish: %v (%v)", err, p.Status)
	}
	if p.Status.Phase != corev1.PodSucceeded || len(p.Status.ContainerStatuses) == 0 {
		t.Fatalf("the client Pod failed: %+v", p.Status)
	}
	msg := p.Status.ContainerStatuses[0].State.Terminated.Message
	if want := "kubernetes.default 10.96.0.1"; strings.TrimSpace(msg) != want {
		t.Fatalf("the client Pod resolved %q, want %q", msg, want)
	}
}
