package e2e

import (
	"context"
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
// logged meanwhile and after arrive as events. (How fast CoreDNS answers meanwhile is
// for `make bench`, whose DNS part runs with the API server stopped too.)
//
// It stops the API server every test uses, so it is not parallel.
func TestAPIServerOutage(t *testing.T) {
	cp := requireSuite(t)
	pod := newPod(t)
	addr, metricsAddr := freeAddr(t), freeAddr(t)
	c := startCoreDNS(t, serverBlock(rootZone(addr),
		"errors",
		localZoneDirective(),
		failingForward(t),
		kubeapiDirective(),
		k8sEventDirective(),
		prometheusDirective(metricsAddr),
	), podEnv(pod, true)...)

	// The connection to the API works before the outage.
	failQuery(t, addr, "before-outage.example.org.")
	checkEvent(t, waitEvent(t, pod, reasonError, loggedMessage(t, c, "ERROR", "before-outage.example.org.")), pod, reasonError)

	apiDown := false
	t.Cleanup(func() {
		if apiDown { // the test failed during the outage: bring the API back for the others
			if err := cp.StartAPIServer(); err != nil {
				t.Error(err)
			}
		}
	})
	if err := cp.StopAPIServer(); err != nil {
		t.Fatalf("stop kube-apiserver: %v", err)
	}
	apiDown = true
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
	if err := cp.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	apiDown = false
	t.Logf("kube-apiserver down for %v: %d local-zone queries answered, %d failed", time.Since(down).Round(time.Millisecond), answered, len(failures))
	if len(failures) > 0 {
		t.Errorf("%d local-zone queries failed during the outage, the first: %v", len(failures), failures[0])
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if again, err := cp.AdminClient().CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{}); err != nil || again.UID != pod.UID {
		t.Errorf("after the restart, Pod %s: %v, UID %v, want %s", pod.Name, err, again.UID, pod.UID)
	}

	// Lines logged after the API server is back are reported, and so are the ones
	// logged during the outage, which client-go retried meanwhile. (They are few enough,
	// with the one before, for client-go not to combine them.)
	recovered := time.Now()
	failQuery(t, addr, "after-outage.example.org.")
	want := append(slices.Clone(outageMsgs), loggedMessage(t, c, "ERROR", "after-outage.example.org."))
	evs := waitEvents(t, pod, recoveryTimeout, fmt.Sprintf("events of the %d lines logged during and after the outage", len(want)),
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
