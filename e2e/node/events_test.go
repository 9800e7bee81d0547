package node

import (
	"strings"
	"testing"
	"time"
)

// TestFailingUpstreamIsAnEventOnItsPod: a query that fails upstream becomes a Warning
// event on the Pod that logged it, under its live name and UID with the node as source
// host, and operators see it where they look: kubectl describe pod and kubectl events.
func TestFailingUpstreamIsAnEventOnItsPod(t *testing.T) {
	setUp(t)
	pods := readyPods(t)
	pod := &pods[len(pods)-1]
	name := uniqueName(t)
	failQuery(t, pod, name)
	ev := waitEvent(t, pod, "CoreDNSError", name, time.Minute)
	if ev.Type != "Warning" || ev.Source.Host != pod.Spec.NodeName || ev.Source.Component != "CoreDNS/errors" {
		t.Errorf("event %s: type %q, source %+v; want Warning from CoreDNS/errors on host %q", ev.Name, ev.Type, ev.Source, pod.Spec.NodeName)
	}
	for _, p := range pods[:len(pods)-1] {
		if evs, _ := listEventsContaining(t, &p, name); len(evs) > 0 {
			t.Errorf("the line logged by %s is also on %s: %v", pod.Name, p.Name, evs)
		}
	}
	ctx := timeout(t, time.Minute)
	describe, err := suite.node.Kubectl(ctx, "-n", namespace, "describe", "pod", pod.Name)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(describe, "CoreDNSError") || !strings.Contains(describe, name) {
		t.Errorf("kubectl describe pod %s does not show the event:\n%s", pod.Name, describe)
	}
	events, err := suite.node.Kubectl(ctx, "-n", namespace, "events", "--for", "pod/"+pod.Name)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(events, "CoreDNSError") || !strings.Contains(events, name) {
		t.Errorf("kubectl events --for pod/%s does not show the event:\n%s", pod.Name, events)
	}
}
