package node

import (
	"context"
	"fmt"
	"github.com/coredns/k8s_event/internal/devenv/node"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// TestLoopEndsTheContainerAndIsAnEvent: a Corefile that forwards a zone to CoreDNS
// itself makes the *loop* plugin log its fatal line; CoreDNS exits, the kubelet restarts
// the container, the CoreDNSFatal event is on the Pod, and once the Corefile is fixed the
// Pod is Ready again.
func TestLoopEndsTheContainerAndIsAnEvent(t *testing.T) {
	setUp(t)
	readyPods(t)
	restoreCorefile(t)
	// The loop plugin's first probe after a reload reaches the configuration still
	// serving: a zone that never answers there makes it try again, and its retry reaches
	// the new one, which forwards the probe to itself.
	quiet := suite.corefile + "loop.test:53 {\n    erratic {\n        drop 1\n    }\n}\n"
	if err := setCorefile(timeout(t, 3*time.Minute), quiet); err != nil {
		t.Fatalf("%v\n%s", err, diagnose(timeout(t, time.Minute)))
	}
	pods := readyPods(t)
	loop := suite.corefile + "loop.test:53 {\n    loop\n    forward . 127.0.0.1:53\n}\n"
	ctx := timeout(t, 4*time.Minute)
	// Not setCorefile: no replica will serve this one for long.
	if err := writeCorefile(ctx, loop); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		if err := waitRestarted(ctx, &p); err != nil {
			t.Fatalf("%v\n%s", err, diagnose(timeout(t, time.Minute)))
		}
		waitEvent(t, &p, "CoreDNSFatal", `plugin/loop: Loop (127.0.0.1:`, time.Minute)
	}
	// The fixed Corefile: the Pods come back Ready, the same Pods, restarted.
	if err := setCorefile(ctx, suite.corefile); err != nil {
		t.Fatalf("%v\n%s", err, diagnose(timeout(t, time.Minute)))
	}
	for _, p := range pods {
		got, err := suite.client.CoreV1().Pods(namespace).Get(ctx, p.Name, metav1.GetOptions{})
		if err != nil || got.UID != p.UID || !node.PodReady(got) {
			t.Errorf("Pod %s after the fix: %v, %v", p.Name, err, got.Status.Conditions)
		}
	}
}

// writeCorefile writes corefile into CoreDNS's ConfigMap.
func writeCorefile(ctx context.Context, corefile string) error {
	cms := suite.client.CoreV1().ConfigMaps(namespace)
	cm, err := cms.Get(ctx, "coredns", metav1.GetOptions{})
	if err != nil {
		return err
	}
	cm.Data["Corefile"] = corefile
	_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	return err
}

// waitRestarted waits until the kubelet restarted pod's container after it exited with
// an error.
func waitRestarted(ctx context.Context, pod *corev1.Pod) error {
	var status string
	err := wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		p, err := suite.client.CoreV1().Pods(namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil || len(p.Status.ContainerStatuses) == 0 {
			return false, nil
		}
		c := p.Status.ContainerStatuses[0]
		status = fmt.Sprintf("restarts %d, last state %+v", c.RestartCount, c.LastTerminationState.Terminated)
		return c.RestartCount > 0 && c.LastTerminationState.Terminated != nil && c.LastTerminationState.Terminated.ExitCode != 0, nil
	})
	if err != nil {
		return fmt.Errorf("%s: the container did not exit and restart (%s): %w", pod.Name, status, err)
	}
	return nil
}
