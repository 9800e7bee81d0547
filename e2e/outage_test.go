package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	outage          = 15 * time.Second     // how long the API server is down: client-go retries after 10 s
	queryPace       = 5 * time.Millisecond // pause between two local-zone queries
	outageFailEvery = 5 * time.Second      // a failing query, so a line to report, this often
	recoveryTimeout = 90 * time.Second     // for the events to arrive after the API is back
)

// TestAPIServerOutage: with kube-apiserver down for 15 s, CoreDNS keeps answering and no
// query fails; once it is back, on the same port, with every object as it was, the lines
// logged meanwhile and after arrive as events. CoreDNS reaches kube-apiserver without
// the readiness gate, so its retries meet a starting API server as it is, refusing
// requests (401, 403) until its authorizers are ready. (How fast CoreDNS answers
// meanwhile is for `make bench`, whose DNS part runs with the API server stopped too.)
func TestAPIServerOutage(t *testing.T) {
	t.Parallel()
	cl := startOwnCluster(t)
	var err error
	if cl.kubeconfig, err = cl.cp.Ungated(cl.kubeconfig); err != nil {
		t.Fatal(err)
	}
	pod := cl.newPod(t)
	metricsAddr := freeAddr(t)
	c, addr := startFailingUpstream(t, cl, podEnv(pod, true), localZoneDirective(), k8sEventDirective(), prometheusDirective(metricsAddr))

	// The connection to the API works before the outage.
	failQuery(t, addr, "before-outage.example.org.")
	checkEvent(t, cl.waitEvent(t, pod, reasonError, loggedMessage(t, c, "ERROR", "before-outage.example.org.")), pod, reasonError)

	if err := cl.cp.StopAPIServer(); err != nil {
		t.Fatalf("stop kube-apiserver: %v", err)
	}
	down := time.Now()
	var outageMsgs []string
	var answered int
	var failures []error
	for i := 0; time.Since(down) < outage; i++ {
		if time.Duration(len(outageMsgs))*outageFailEvery <= time.Since(down) {
			name := fmt.Sprintf("during-outage-%d.example.org.", len(outageMsgs))
			failQuery(t, addr, name)
			outageMsgs = append(outageMsgs, loggedMessage(t, c, "ERROR", name))
		}
		if err := localAnswer(addr, fmt.Sprintf("during-%d.%s", i, localZone)); err != nil {
			failures = append(failures, err)
		} else {
			answered++
		}
		time.Sleep(queryPace)
	}
	setUp(t, "restarting kube-apiserver", cl.cp.StartAPIServer)
	t.Logf("kube-apiserver down for %v: %d local-zone queries answered, %d failed", time.Since(down).Round(time.Millisecond), answered, len(failures))
	if len(failures) > 0 {
		t.Errorf("%d local-zone queries failed during the outage, the first: %v", len(failures), failures[0])
	}
	if again, err := cl.cp.AdminClient().CoreV1().Pods(pod.Namespace).Get(timeout(t, 10*time.Second), pod.Name, metav1.GetOptions{}); err != nil || again.UID != pod.UID {
		t.Errorf("after the restart, Pod %s: %v, UID %v, want %s", pod.Name, err, again.UID, pod.UID)
	}

	// Lines logged after the API server is back are reported, and so are the ones
	// logged during the outage, which the plugin retried meanwhile. (They are few enough,
	// with the one before, for client-go not to combine them.)
	recovered := time.Now()
	failQuery(t, addr, "after-outage.example.org.")
	want := append(slices.Clone(outageMsgs), loggedMessage(t, c, "ERROR", "after-outage.example.org."))
	evs := cl.waitEvents(t, pod, recoveryTimeout, fmt.Sprintf("events of the %d lines logged during and after the outage", len(want)),
		func(evs []corev1.Event) bool {
			return !slices.ContainsFunc(want, func(msg string) bool { return len(matching(evs, reasonError, msg)) == 0 })
		})
	t.Logf("%d events arrived %v after the API server was back", len(want), time.Since(recovered).Round(time.Millisecond))
	for _, msg := range want {
		if m := matching(evs, reasonError, msg); len(m) != 1 || m[0].Count != 1 {
			t.Errorf("line %q: want one event with count 1, got:\n%s", msg, devenv.FormatEvents(m))
		}
	}
	if len(evs) != len(want)+1 || totalCount(evs) != len(want)+1 {
		t.Errorf("want %d events, one per line, got:\n%s", len(want)+1, devenv.FormatEvents(evs))
	}
	delivery := countLines(c.Lines(), "plugin/k8s_event: ", "event delivery")
	m := scrape(t, metricsAddr)
	t.Logf("%d event delivery lines; api_writes_total %v (%v failed)", delivery, m.Sum(metricWrites), failedWrites(m))
	if delivery > 2 {
		t.Errorf("delivery failures logged %d times, want at most once a minute", delivery)
	}
}

// TestOutageLongerThanClientGoRetries: kube-apiserver down for 160 s, longer than
// client-go's own retries (12 tries 10 s apart); distinct failing queries meanwhile.
// Once it is back, every line becomes an event within a minute, stamped with when it
// was logged. It runs beside the others: its API server's port is never given out
// again while it is down (devenv.StartControlPlane).
func TestOutageLongerThanClientGoRetries(t *testing.T) {
	t.Parallel()
	const longOutage = 160 * time.Second
	cl := ownCluster(t, true, nil)
	pod := cl.newPod(t)
	metricsAddr := freeAddr(t)
	c, addr := startFailingUpstream(t, cl, podEnv(pod, true), k8sEventDirective(), prometheusDirective(metricsAddr))
	failQuery(t, addr, "before-outage.example.org.")
	cl.waitEvents(t, pod, eventTimeout, "the event before the outage", func(evs []corev1.Event) bool {
		return len(withMessage(evs, "before-outage.example.org.")) == 1
	})

	if err := cl.cp.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	logged := map[string]time.Time{}
	for i := range 4 {
		time.Sleep(time.Until(down.Add(time.Duration(i) * longOutage / 4)))
		name := fmt.Sprintf("during-outage-%d.example.org.", i)
		logged[name] = time.Now()
		failQuery(t, addr, name)
	}
	time.Sleep(time.Until(down.Add(longOutage)))
	setUp(t, "restarting kube-apiserver", cl.cp.StartAPIServer)
	recovered := time.Now()
	evs := cl.waitEvents(t, pod, time.Minute, "an event for every line logged during the outage", func(evs []corev1.Event) bool {
		for name := range logged {
			if len(withMessage(evs, name)) == 0 {
				return false
			}
		}
		return true
	})
	t.Logf("API server down %v; the %d lines arrived %v after it was back", recovered.Sub(down).Round(time.Second), len(logged), time.Since(recovered).Round(time.Millisecond))
	for name, at := range logged {
		e := withMessage(evs, name)[0]
		if d := e.LastTimestamp.Sub(at); d < -time.Second || d > 5*time.Second {
			t.Errorf("%q stamped %v, logged %v: want when it was logged", name, e.LastTimestamp.Time, at)
		}
	}
	m := scrape(t, metricsAddr)
	if d := m.Sum(metricDropped) - m.Get(metricDropped, "reason", "rate_limited"); d != 0 {
		t.Errorf("%v admitted lines dropped", d)
	}
	t.Logf("%d delivery lines printed; api_writes_total %v", countLines(c.Lines(), "plugin/k8s_event: ", ""), m.Sum(metricWrites))
}
