package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
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

// podEvents lists, as the admin, the events in the Pod's namespace on the Pod's name.
func podEvents(t *testing.T, pod *corev1.Pod) []corev1.Event {
	t.Helper()
	evs, err := listPodEvents(t.Context(), pod)
	if err != nil {
		t.Fatalf("list events: %v", err)
	}
	return evs
}

func listPodEvents(ctx context.Context, pod *corev1.Pod) ([]corev1.Event, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	list, err := suite.cp.AdminClient().CoreV1().Events(pod.Namespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("involvedObject.name", pod.Name).String(),
	})
	if err != nil {
		return nil, err
	}
	evs := list.Items
	sort.Slice(evs, func(i, j int) bool { return evs[i].CreationTimestamp.Before(&evs[j].CreationTimestamp) })
	return evs, nil
}

// waitEvents polls the Pod's events until cond holds for them, and returns them.
func waitEvents(t *testing.T, pod *corev1.Pod, timeout time.Duration, what string, cond func([]corev1.Event) bool) []corev1.Event {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		evs, err := listPodEvents(t.Context(), pod)
		if err == nil && cond(evs) {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("within %v, no %s on Pod %s (last list error: %v); events:\n%s",
				timeout, what, pod.Name, err, formatEvents(evs))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitEvent waits for an event with this reason and exact message, and returns it.
func waitEvent(t *testing.T, pod *corev1.Pod, reason, message string) corev1.Event {
	t.Helper()
	evs := waitEvents(t, pod, eventTimeout, fmt.Sprintf("%s event %q", reason, message), func(evs []corev1.Event) bool {
		return len(matching(evs, reason, message)) > 0
	})
	return matching(evs, reason, message)[0]
}

// matching returns the events with this reason and exact message.
func matching(evs []corev1.Event, reason, message string) []corev1.Event {
	return filterEvents(evs, func(e corev1.Event) bool { return e.Reason == reason && e.Message == message })
}

// withReason returns the events with this reason.
func withReason(evs []corev1.Event, reason string) []corev1.Event {
	return filterEvents(evs, func(e corev1.Event) bool { return e.Reason == reason })
}

// filterMessage returns the events with this exact message.
func filterMessage(evs []corev1.Event, msg string) []corev1.Event {
	return filterEvents(evs, func(e corev1.Event) bool { return e.Message == msg })
}

// filterEvents returns the events keep accepts, in order.
func filterEvents(evs []corev1.Event, keep func(corev1.Event) bool) []corev1.Event {
	var out []corev1.Event
	for _, e := range evs {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}

// totalCount adds up the Count of the events: how many lines they stand for.
func totalCount(evs []corev1.Event) int {
	n := 0
	for _, e := range evs {
		n += int(e.Count)
	}
	return n
}

// formatEvents renders events for a failure message.
func formatEvents(evs []corev1.Event) string {
	if len(evs) == 0 {
		return "  (none)"
	}
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "  %s %s %s count=%d uid=%q host=%q: %q\n",
			e.Name, e.Type, e.Reason, e.Count, e.InvolvedObject.UID, e.Source.Host, e.Message)
	}
	return b.String()
}

// checkEvent checks everything about an event but its message and count: it is on the
// Pod (with its UID) in the Pod's namespace, from CoreDNS on the node, of the type its
// reason implies.
func checkEvent(t *testing.T, e corev1.Event, pod *corev1.Pod, reason string) {
	t.Helper()
	wantType := corev1.EventTypeWarning
	if reason == reasonInfo || reason == "CoreDNSDebug" {
		wantType = corev1.EventTypeNormal
	}
	io := e.InvolvedObject
	var problems []string
	check := func(what, got, want string) {
		if got != want {
			problems = append(problems, fmt.Sprintf("%s is %q, want %q", what, got, want))
		}
	}
	check("namespace", e.Namespace, pod.Namespace)
	check("involvedObject.kind", io.Kind, "Pod")
	check("involvedObject.apiVersion", io.APIVersion, "v1")
	check("involvedObject.name", io.Name, pod.Name)
	check("involvedObject.namespace", io.Namespace, pod.Namespace)
	check("involvedObject.uid", string(io.UID), string(pod.UID))
	check("reason", e.Reason, reason)
	check("type", e.Type, wantType)
	check("source.component", e.Source.Component, "CoreDNS")
	check("source.host", e.Source.Host, nodeName)
	if len(problems) > 0 {
		t.Errorf("event %s (%q):\n  %s", e.Name, e.Message, strings.Join(problems, "\n  "))
	}
}

// loggedMessage finds the line CoreDNS printed at this level tag ("ERROR", "INFO", ...)
// that contains substr, and returns what follows the tag: the event message.
func loggedMessage(t *testing.T, c *coreDNS, tag, substr string) string {
	t.Helper()
	prefix := "[" + tag + "] "
	line := c.waitLine(10*time.Second, fmt.Sprintf("a %s line containing %q", prefix, substr), func(l string) bool {
		return strings.HasPrefix(l, prefix) && strings.Contains(l, substr)
	})
	return strings.TrimPrefix(line, prefix)
}
