package e2e

import (
	"slices"
	"strings"
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

// podEnv is the Downward API environment a CoreDNS Pod would have. Without withUID the
// plugin has to look the UID up.
func podEnv(pod *corev1.Pod, withUID bool) []string {
	return devenv.DownwardEnv(pod, nodeName, withUID)
}

// keepEvents returns the events keep accepts.
func keepEvents(evs []corev1.Event, keep func(corev1.Event) bool) []corev1.Event {
	return slices.DeleteFunc(slices.Clone(evs), func(e corev1.Event) bool { return !keep(e) })
}

// matching returns the events with this reason (any if "") and exact message.
func matching(evs []corev1.Event, reason, message string) []corev1.Event {
	return keepEvents(evs, func(e corev1.Event) bool { return (reason == "" || e.Reason == reason) && e.Message == message })
}

// withReason returns the events with this reason.
func withReason(evs []corev1.Event, reason string) []corev1.Event {
	return keepEvents(evs, func(e corev1.Event) bool { return e.Reason == reason })
}

// withMessage returns the events whose message contains substr.
func withMessage(evs []corev1.Event, substr string) []corev1.Event {
	return keepEvents(evs, func(e corev1.Event) bool { return strings.Contains(e.Message, substr) })
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
// Pod (with its UID) in the Pod's namespace, from CoreDNS/PLUGIN on the node, of the type
// its reason implies.
func checkEvent(t *testing.T, e corev1.Event, pod *corev1.Pod, reason string) {
	t.Helper()
	wantType := corev1.EventTypeWarning
	if reason == reasonInfo {
		wantType = corev1.EventTypeNormal
	}
	// The source component names the plugin the message starts with (after the
	// correlator's prefix of a combined event).
	source := "CoreDNS"
	if rest, ok := strings.CutPrefix(strings.TrimPrefix(e.Message, "(combined from similar events): "), "plugin/"); ok {
		name, _, _ := strings.Cut(rest, ":")
		source += "/" + name
	}
	io := e.InvolvedObject
	got := []string{e.Namespace, io.Kind, io.APIVersion, io.Name, io.Namespace, string(io.UID), e.Reason, e.Type, e.Source.Component, e.Source.Host}
	want := []string{pod.Namespace, "Pod", "v1", pod.Name, pod.Namespace, string(pod.UID), reason, wantType, source, nodeName}
	if !slices.Equal(got, want) {
		t.Errorf("event %s (%q): namespace, involvedObject kind, apiVersion, name, namespace, uid, reason, type, source component, host:\n got  %q\n want %q",
			e.Name, e.Message, got, want)
	}
}
