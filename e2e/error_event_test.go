package e2e

import (
	"slices"
	"strings"
	"testing"

	"github.com/coredns/k8s_event/internal/devenv"
	corev1 "k8s.io/api/core/v1"
)

// TestErrorEvent: a query whose upstream fails becomes exactly one CoreDNSError Warning
// event on the CoreDNS Pod, with the exact text CoreDNS printed, that kubectl shows
// where a user looks: with the Pod UID from the Downward API, and looked up.
func TestErrorEvent(t *testing.T) {
	t.Parallel()
	cl := sharedCluster(t)
	for _, tc := range []struct {
		name    string
		withUID bool
	}{
		{"uid from env", true},
		{"uid looked up", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pod := cl.newPod(t)
			c, addr := startFailingUpstream(t, cl, podEnv(pod, tc.withUID), k8sEventDirective())

			failQuery(t, addr, "first.example.org.")
			first := loggedMessage(t, c, "ERROR", "first.example.org.")
			if !strings.HasPrefix(first, "plugin/errors: 2 first.example.org. A: ") {
				t.Fatalf("unexpected error line %q", first)
			}
			cl.waitEvent(t, pod, reasonError, first)

			// A second line, so that a late duplicate of the first would show by now.
			failQuery(t, addr, "second.example.org.")
			second := loggedMessage(t, c, "ERROR", "second.example.org.")
			evs := cl.waitEvents(t, pod, eventTimeout, "second event", func(evs []corev1.Event) bool {
				return len(matching(evs, reasonError, second)) > 0
			})
			if len(evs) != 2 {
				t.Fatalf("want exactly 2 events, one per line, got %d:\n%s", len(evs), devenv.FormatEvents(evs))
			}
			for _, msg := range []string{first, second} {
				m := matching(evs, reasonError, msg)
				if len(m) != 1 || m[0].Count != 1 {
					t.Fatalf("want one event with count 1 for %q, got:\n%s", msg, devenv.FormatEvents(evs))
				}
				checkEvent(t, m[0], pod, reasonError)
			}
			if w := cl.waitAudit(t, 2, onPod(pod)); w.total() != 2 || w.byVerb["create"] != 2 || w.allowed != 2 {
				t.Errorf("audit log: want 2 allowed creates, got %v (%d allowed, %d denied)", w.byVerb, w.allowed, w.denied)
			}

			// Where a user looks.
			describe := cl.kubectl(t, "describe", "pod", pod.Name, "-n", pod.Namespace)
			if lineWith(describe, "Warning", reasonError, first) == "" {
				t.Errorf("kubectl describe pod does not list the event %q:\n%s", first, describe)
			}
			events := cl.kubectl(t, "events", "-n", pod.Namespace, "--for", "pod/"+pod.Name)
			if lineWith(events, "Warning", reasonError, "Pod/"+pod.Name, first) == "" {
				t.Errorf("kubectl events does not list the event %q:\n%s", first, events)
			}
		})
	}
}

// TestPercentInQueryName: a query name with % in it is reported exactly as CoreDNS
// printed it, never read as a format string.
func TestPercentInQueryName(t *testing.T) {
	t.Parallel()
	cl := sharedCluster(t)
	pod := cl.newPod(t)
	c, addr := startFailingUpstream(t, cl, podEnv(pod, true), k8sEventDirective())

	const name = "100%25d.%s%d%v%!x.example.org."
	failQuery(t, addr, name)
	msg := loggedMessage(t, c, "ERROR", "example.org.")
	if !strings.Contains(msg, " 100%25d.%s%d%v%!x.example.org. A: ") {
		t.Fatalf("CoreDNS printed the name differently than expected: %q", msg)
	}
	e := cl.waitEvent(t, pod, reasonError, msg)
	checkEvent(t, e, pod, reasonError)
	if evs := cl.events(t, pod); len(evs) != 1 {
		t.Errorf("want exactly one event, got:\n%s", devenv.FormatEvents(evs))
	}
}

// TestEventBeforeShutdown: a line logged right before CoreDNS is told to stop still
// becomes an event: the plugin writes what it holds before the process exits.
func TestEventBeforeShutdown(t *testing.T) {
	t.Parallel()
	cl := sharedCluster(t)
	pod := cl.newPod(t)
	c, addr := startFailingUpstream(t, cl, podEnv(pod, false), k8sEventDirective())

	failQuery(t, addr, "last-words.example.org.")
	if err := c.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	msg := loggedMessage(t, c, "ERROR", "last-words.example.org.")
	evs := cl.events(t, pod) // listed once: the process is gone, nothing more will come
	if m := matching(evs, reasonError, msg); len(m) != 1 || m[0].Count != 1 {
		t.Fatalf("want one event %q, got:\n%s", msg, devenv.FormatEvents(evs))
	}
	checkEvent(t, evs[0], pod, reasonError)
}

// lineWith returns the first line of out that contains every one of parts, or "".
func lineWith(out string, parts ...string) string {
	for l := range strings.Lines(out) {
		if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(l, p) }) {
			return l
		}
	}
	return ""
}
