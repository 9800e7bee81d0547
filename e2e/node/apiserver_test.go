package node

import (
	"testing"
	"time"
)

// TestLinesLoggedWhileTheAPIServerIsDownAreReportedAfter: kube-apiserver restarted under
// the running Pods, as in a control-plane upgrade: what CoreDNS logged meanwhile is
// reported once it is back, with the time it happened.
func TestLinesLoggedWhileTheAPIServerIsDownAreReportedAfter(t *testing.T) {
	setUp(t)
	pods := readyPods(t)
	if err := suite.node.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			if err := suite.node.StartAPIServer(timeout(t, 2*time.Minute)); err != nil {
				t.Errorf("starting kube-apiserver again: %v", err)
			}
		}
	})
	names := map[string]string{}
	logged := time.Now()
	for _, p := range pods {
		names[p.Name] = uniqueName(t)
		failQuery(t, &p, names[p.Name])
	}
	// Each replica's write fails and waits for its retry.
	for _, p := range pods {
		waitMetric(t, &p, "coredns_k8s_event_api_writes_total", []string{"result", "error", "verb", "create"}, 1)
	}
	if err := suite.node.StartAPIServer(timeout(t, 2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	restarted = true
	back := time.Now()
	for _, p := range pods {
		ev := waitEvent(t, &p, "CoreDNSError", names[p.Name], 2*time.Minute)
		if first := ev.FirstTimestamp.Time; first.Before(logged.Truncate(time.Second)) || !first.Before(back) {
			t.Errorf("event %s: first timestamp %v, want the time the line was logged, in [%v, %v)", ev.Name, first, logged, back)
		}
	}
}
