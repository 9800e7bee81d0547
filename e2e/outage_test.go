package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

const (
	outage          = 30 * time.Second     // how long the API server is down
	baselineQueries = 300                  // queries timed before the outage
	queryPace       = 5 * time.Millisecond // pause between two timed queries
	outageFailEvery = 5 * time.Second      // a failing query, so a line to report, this often
	recoveryTimeout = 90 * time.Second     // for the events to arrive after the API is back
	latencySlack    = 1 * time.Millisecond // allowed on top of twice the median before
	apiStartTimeout = 120 * time.Second    // restarting kube-apiserver
)

// TestAPIServerOutage: with kube-apiserver down for 30 s, CoreDNS keeps answering as fast
// as before and no query fails; the lines logged meanwhile and after the API server is
// back arrive as events.
//
// It stops the API server every test uses, so it is not parallel.
func TestAPIServerOutage(t *testing.T) {
	cp := requireSuite(t)
	pod := newPod(t)
	addr, metricsAddr := loopbackAddr(freePort(t)), loopbackAddr(freePort(t))
	c := startCoreDNS(t, serverBlock(".:"+portOf(addr),
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

	before := timeLocalQueries(t, addr, "before", baselineQueries, queryPace)

	apiDown := false
	t.Cleanup(func() {
		if apiDown { // the test failed during the outage: bring the API back for the others
			ctx, cancel := context.WithTimeout(context.Background(), apiStartTimeout)
			defer cancel()
			if err := cp.StartAPIServer(ctx); err != nil {
				t.Errorf("restarting kube-apiserver: %v", err)
			}
		}
	})
	if err := cp.StopAPIServer(); err != nil {
		t.Fatalf("stop kube-apiserver: %v", err)
	}
	apiDown = true
	down := time.Now()
	var during []time.Duration
	var outageMsgs []string
	var failures []error
	for i := 0; time.Since(down) < outage; i++ {
		if time.Duration(len(outageMsgs))*outageFailEvery <= time.Since(down) {
			name := fmt.Sprintf("during-outage-%d.example.org.", len(outageMsgs))
			failQuery(t, addr, name)
			outageMsgs = append(outageMsgs, loggedMessage(t, c, "ERROR", name))
		}
		rtt, err := localAnswer(addr, fmt.Sprintf("during-%d.%s", i, localZone))
		if err != nil {
			failures = append(failures, err)
		} else {
			during = append(during, rtt)
		}
		time.Sleep(queryPace)
	}
	ctx, cancel := context.WithTimeout(t.Context(), apiStartTimeout)
	defer cancel()
	if err := cp.StartAPIServer(ctx); err != nil {
		t.Fatalf("restart kube-apiserver: %v", err)
	}
	apiDown = false
	t.Logf("kube-apiserver down for %v", time.Since(down).Round(time.Millisecond))

	medBefore, medDuring := median(before), median(during)
	t.Logf("local zone latency: before: %d queries, median %v, p99 %v; during the outage: %d queries, median %v, p99 %v, %d failed",
		len(before), medBefore, percentile(before, 0.99), len(during), medDuring, percentile(during, 0.99), len(failures))
	if len(failures) > 0 {
		t.Errorf("%d local-zone queries failed during the outage, the first: %v", len(failures), failures[0])
	}
	if limit := 2*medBefore + latencySlack; medDuring > limit {
		t.Errorf("median latency during the outage %v, want at most %v (2x before + %v)", medDuring, limit, latencySlack)
	}

	// Lines logged after the API server is back are reported, and so are the ones
	// logged during the outage, which client-go retried meanwhile. (They are few enough,
	// with the one before, for client-go not to combine them.)
	recovered := time.Now()
	failQuery(t, addr, "after-outage.example.org.")
	after := loggedMessage(t, c, "ERROR", "after-outage.example.org.")
	want := append(slices.Clone(outageMsgs), after)
	evs := waitEvents(t, pod, recoveryTimeout, fmt.Sprintf("events of the %d lines logged during and after the outage", len(want)),
		func(evs []corev1.Event) bool {
			for _, msg := range want {
				if len(matching(evs, reasonError, msg)) == 0 {
					return false
				}
			}
			return true
		})
	t.Logf("%d events arrived %v after the API server was back", len(want), time.Since(recovered).Round(time.Millisecond))
	for _, msg := range want {
		if m := matching(evs, reasonError, msg); len(m) != 1 || m[0].Count != 1 {
			t.Errorf("line %q: want one event with count 1, got:\n%s", msg, formatEvents(m))
		}
	}
	if len(evs) != len(want)+1 || totalCount(evs) != len(want)+1 {
		t.Errorf("want %d events, one per line, got:\n%s", len(want)+1, formatEvents(evs))
	}
	delivery := countLines(c.lines(), "plugin/k8s_event: ", "event delivery")
	m := scrapeMetrics(t, metricsAddr)
	t.Logf("%d event delivery lines; api_writes_total %v (%v failed)", delivery, m.sum(metricWrites), failedWrites(m))
	if delivery > 2 {
		t.Errorf("delivery failures logged %d times, want at most once a minute", delivery)
	}
}

// timeLocalQueries sends n local-zone queries one after the other and returns their
// round-trip times, failing the test if one fails.
func timeLocalQueries(t *testing.T, addr, label string, n int, pace time.Duration) []time.Duration {
	t.Helper()
	rtts := make([]time.Duration, 0, n)
	for i := range n {
		rtt, err := localAnswer(addr, fmt.Sprintf("%s-%d.%s", label, i, localZone))
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		rtts = append(rtts, rtt)
		time.Sleep(pace)
	}
	return rtts
}

func median(d []time.Duration) time.Duration { return percentile(d, 0.5) }

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1))]
}
