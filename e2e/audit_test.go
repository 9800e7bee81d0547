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
	allowed int            // of those, with a 2xx status
}

func (w eventWrites) total() int { return w.byVerb["create"] + w.byVerb["patch"] + w.byVerb["update"] }

// auditEventWrites counts the event writes of the coredns identity on the Pod's events,
// recognised by their names, which client-go derives from the Pod's ("NAME.HEX"). A
// create refused by authorization has no name in the log: auditEventWritesSince
// counts those.
func auditEventWrites(t *testing.T, pod *corev1.Pod) eventWrites {
	t.Helper()
	return readAudit(t, func(e devenv.AuditEvent) bool {
		return e.ObjectRef.Namespace == pod.Namespace && strings.HasPrefix(e.ObjectRef.Name, pod.Name+".")
	})
}

// auditEventWritesSince counts every event write of the coredns identity received at
// since or later: only for tests that run alone.
func auditEventWritesSince(t *testing.T, since time.Time) eventWrites {
	t.Helper()
	return readAudit(t, func(e devenv.AuditEvent) bool { return !e.Received.Before(since) })
}

func readAudit(t *testing.T, keep func(devenv.AuditEvent) bool) eventWrites {
	t.Helper()
	evs, err := suite.cp.AuditEvents()
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	w := eventWrites{byVerb: map[string]int{}}
	for _, e := range evs {
		switch {
		case e.User.Username != devenv.ServiceAccountUser(devenv.CoreDNSNamespace, "coredns") || e.ObjectRef.Resource != "events" || !keep(e):
		case e.Verb == "create" || e.Verb == "patch" || e.Verb == "update":
			w.byVerb[e.Verb]++
			if code := e.ResponseStatus.Code; code == 403 {
				w.denied++
			} else if code >= 200 && code < 300 {
				w.allowed++
			}
		}
	}
	return w
}

// waitAudit rereads the audit log, with read, until it holds at least want writes or 10 s
// pass (the API server may write an entry just after its answer), and returns the last
// reading, which the caller checks: it may hold more.
func waitAudit(t *testing.T, want int, read func() eventWrites) eventWrites {
	t.Helper()
	var w eventWrites
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if w = read(); w.total() >= want || time.Now().After(deadline) {
			return w
		}
	}
}
