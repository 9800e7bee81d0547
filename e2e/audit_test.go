package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	corev1 "k8s.io/api/core/v1"
)

// eventWrites counts what the audit log holds about CoreDNS writing events.
type eventWrites struct {
	byVerb  map[string]int // completed writes by verb, whatever their result
	denied  int            // of those, refused with 403 Forbidden
	limited int            // of those, refused with 429 Too Many Requests
	allowed int            // of those, with a 2xx status
}

func (w eventWrites) total() int { return w.byVerb["create"] + w.byVerb["patch"] + w.byVerb["update"] }

// onPod keeps the writes on the Pod's events, recognised by their names, which client-go
// derives from the Pod's ("NAME.HEX"). A create refused by authorization has no name in
// the log: receivedSince counts those.
func onPod(pod *corev1.Pod) func(devenv.AuditEvent) bool {
	return func(e devenv.AuditEvent) bool {
		return e.ObjectRef.Namespace == pod.Namespace && strings.HasPrefix(e.ObjectRef.Name, pod.Name+".")
	}
}

// receivedSince keeps the writes received at since or later: on a cluster where one
// CoreDNS at a time runs.
func receivedSince(since time.Time) func(devenv.AuditEvent) bool {
	return func(e devenv.AuditEvent) bool { return !e.Received.Before(since) }
}

// waitAudit counts the event writes of the coredns identity that keep accepts, rereading
// the audit log until it holds at least want of them or 10 s pass (the API server may
// write an entry just after its answer). It returns the last count, which the caller
// checks: it may hold more.
func (cl *cluster) waitAudit(t *testing.T, want int, keep func(devenv.AuditEvent) bool) eventWrites {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if w := cl.eventWrites(t, keep); w.total() >= want || time.Now().After(deadline) {
			return w
		}
	}
}

func (cl *cluster) eventWrites(t *testing.T, keep func(devenv.AuditEvent) bool) eventWrites {
	t.Helper()
	evs, err := cl.cp.AuditEvents()
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	w := eventWrites{byVerb: map[string]int{}}
	for _, e := range evs {
		switch {
		case e.User.Username != corednsUser || e.ObjectRef.Resource != "events" || !keep(e):
		case e.Verb == "create" || e.Verb == "patch" || e.Verb == "update":
			w.byVerb[e.Verb]++
			if code := e.ResponseStatus.Code; code == 403 {
				w.denied++
			} else if code == 429 {
				w.limited++
			} else if code >= 200 && code < 300 {
				w.allowed++
			}
		}
	}
	return w
}
