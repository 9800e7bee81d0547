package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	corev1 "k8s.io/api/core/v1"
)

// TestEventRateLimit: kube-apiserver with the EventRateLimit admission plugin (a burst
// of 3 Event writes in the namespace, then 1 a second) answers the writes beyond it 429,
// without Retry-After. The plugin retries each refused write on its own schedule, never
// sooner than its backoff allows (1 s after a first refusal), counts every try, and
// every admitted line becomes its event.
func TestEventRateLimit(t *testing.T) {
	t.Parallel()
	cl := ownCluster(t, false, []devenv.Option{devenv.WithEventRateLimit(1, 3)})
	pod := cl.newPod(t)
	metricsAddr := freeAddr(t)
	c, addr := startFailingUpstream(t, cl, podEnv(pod, true), k8sEventDirective("rate 1 10"), prometheusDirective(metricsAddr))
	const lines = 8
	var msgs []string
	for i := range lines {
		name := fmt.Sprintf("limited-%d.example.org.", i)
		failQuery(t, addr, name)
		msgs = append(msgs, loggedMessage(t, c, "ERROR", name))
	}
	evs := cl.waitEvents(t, pod, time.Minute, fmt.Sprintf("the events of %d lines", lines), func(evs []corev1.Event) bool {
		return !slices.ContainsFunc(msgs, func(msg string) bool { return len(matching(evs, reasonError, msg)) == 0 })
	})
	for _, msg := range msgs {
		if m := matching(evs, reasonError, msg); len(m) != 1 || m[0].Count != 1 {
			t.Errorf("line %q: want one event with count 1, got:\n%s", msg, devenv.FormatEvents(m))
		}
	}

	m := scrape(t, metricsAddr)
	w := cl.waitAudit(t, int(m.Sum(metricWrites)), onPod(pod))
	t.Logf("%d lines: api_writes_total %v (%v failed); audit: %d writes, %d answered 429", lines, m.Sum(metricWrites), failedWrites(m), w.total(), w.limited)
	if w.limited == 0 {
		t.Errorf("no write was answered 429: the admission limit was never reached")
	}
	if int(failedWrites(m)) != w.limited || int(m.Sum(metricWrites)) != w.total() {
		t.Errorf("api_writes_total %v (%v failed), audit log %d writes (%d answered 429): want every try counted",
			m.Sum(metricWrites), failedWrites(m), w.total(), w.limited)
	}
	if d := m.Sum(metricDropped) - m.Get(metricDropped, "reason", "rate_limited"); d != 0 {
		t.Errorf("%v admitted lines dropped", d)
	}
	retries := retriesAfter429(t, cl, pod)
	if w.limited > 0 && len(retries) == 0 {
		t.Errorf("no write answered 429 was tried again")
	}
	for _, r := range retries {
		if r.Early() {
			t.Errorf("an event written again %v after its %d-th 429 in a row: sooner than the plugin's backoff allows", r.Wait, r.Refusals)
		}
	}
	t.Logf("retries after a 429: %v", retries)
}

// retriesAfter429 is, from the audit log, every write of one of the Pod's events that
// followed a 429 on it.
func retriesAfter429(t *testing.T, cl *cluster, pod *corev1.Pod) []devenv.Retry {
	t.Helper()
	all, err := cl.cp.AuditEvents()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string][]devenv.AuditEvent{}
	for _, e := range all {
		if e.User.Username == corednsUser && onPod(pod)(e) {
			byName[e.ObjectRef.Name] = append(byName[e.ObjectRef.Name], e)
		}
	}
	var retries []devenv.Retry
	for _, reqs := range byName {
		retries = append(retries, devenv.RetriesAfter429(reqs)...)
	}
	return retries
}
