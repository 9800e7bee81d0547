package e2e

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
)

const (
	loadQueries  = 20000            // failing queries sent
	loadWorkers  = 8                // each with its own UDP socket
	loadDeadline = 3 * time.Minute  // for sending them all
	maxVmHWM     = 200 << 20        // CoreDNS's peak resident set size
	maxLoadEvent = 12               // Event objects: client-go's 10 + 1 combined, + 1
	loadDrain    = 30 * time.Second // for the admitted lines to be written
)

// TestLoad: 20,000 failing queries, each logged as an error with its own name, cost no
// more event writes than the rate settings allow, and few Event objects; CoreDNS's
// memory stays bounded.
func TestLoad(t *testing.T) {
	t.Parallel()
	cl := sharedCluster(t)
	pod := cl.newPod(t)
	metricsAddr := freeAddr(t)
	began := time.Now()
	// k8s_event's default rate: burst 25, then 1 every 300 s.
	c, addr := startFailingUpstream(t, cl, podEnv(pod, true), k8sEventDirective(), prometheusDirective(metricsAddr))

	servfail, others := sendFailingQueries(addr, loadQueries, loadWorkers, loadDeadline)
	t.Logf("%d queries: %d SERVFAIL, %v", loadQueries, servfail, others)
	if others["other answers"] != 0 || others["errors"] != 0 || servfail < loadQueries*99/100 {
		t.Errorf("want (nearly) every query answered SERVFAIL")
	}

	// Every SERVFAIL was logged (before it was answered) and seen by the plugin.
	var m devenv.Metrics
	eventually(t, loadDrain, "every admitted line written", func() (bool, string) {
		m = scrape(t, metricsAddr)
		admitted := m.Get(metricLines, "level", "error") - m.Get(metricDropped, "reason", "rate_limited")
		return m.Sum(metricWrites) >= admitted && admitted > 0,
			fmt.Sprintf("%v lines, %v rate limited, %v writes", m.Get(metricLines, "level", "error"), m.Get(metricDropped, "reason", "rate_limited"), m.Sum(metricWrites))
	})
	lines := m.Get(metricLines, "level", "error")
	admitted := lines - m.Get(metricDropped, "reason", "rate_limited")
	elapsed := time.Since(began)
	limit := rateLimit(defaultBurst, defaultQPS, elapsed)
	evs := cl.waitEvents(t, pod, eventTimeout, fmt.Sprintf("events counting the %v admitted lines", admitted), func(evs []corev1.Event) bool {
		return float64(totalCount(evs)) >= admitted
	})
	w := cl.waitAudit(t, int(m.Sum(metricWrites)), onPod(pod))
	hwm, err := c.PeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	printed := countLines(c.Lines(), "[ERROR] plugin/errors: ", ".load.example.org.")
	t.Logf("%d errors lines printed; lines_total{error} %v, dropped_total %v, admitted %v; api_writes_total %v; "+
		"%d events with counts adding up to %d; audit log: %d writes %v; limit %d (burst %d + refill over %v); CoreDNS VmHWM %.1f MiB",
		printed, lines, m.Sum(metricDropped), admitted, m.Sum(metricWrites), len(evs), totalCount(evs), w.total(), w.byVerb,
		limit, defaultBurst, elapsed.Round(time.Second), float64(hwm)/(1<<20))

	if int(lines) != printed || printed < int(servfail) {
		t.Errorf("lines_total{error} %v, errors lines printed %d, SERVFAIL answers %d: want the first two equal, and at least the third",
			lines, printed, servfail)
	}
	if int(admitted) > limit || admitted < defaultBurst {
		t.Errorf("%v lines admitted, want between the burst %d and the limit %d", admitted, defaultBurst, limit)
	}
	if got := totalCount(evs); got != int(admitted) {
		t.Errorf("event counts add up to %d, want one per admitted line, %v:\n%s", got, admitted, devenv.FormatEvents(evs))
	}
	if len(evs) > maxLoadEvent {
		t.Errorf("%d Event objects, want at most %d:\n%s", len(evs), maxLoadEvent, devenv.FormatEvents(evs))
	}
	if w.total() > limit || w.total() != int(m.Sum(metricWrites)) || w.allowed != w.total() {
		t.Errorf("audit log: %d writes (%d allowed), api_writes_total %v: want them equal, allowed, and at most %d",
			w.total(), w.allowed, m.Sum(metricWrites), limit)
	}
	if hwm > maxVmHWM {
		t.Errorf("CoreDNS VmHWM %.1f MiB, want at most %d MiB", float64(hwm)/(1<<20), maxVmHWM>>20)
	}
}

// sendFailingQueries sends n queries with distinct names from workers goroutines, each
// query waiting at most devenv.QueryTimeout for its answer, all within deadline. It
// returns the SERVFAIL answers and the other outcomes: other answers, timeouts, errors.
func sendFailingQueries(addr string, n, workers int, deadline time.Duration) (servfail int64, others map[string]int64) {
	var next, sf atomic.Int64
	var mu sync.Mutex
	others = map[string]int64{}
	stop := time.Now().Add(deadline)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(n) && time.Now().Before(stop); i = next.Add(1) - 1 {
				r, _, err := devenv.Query(addr, fmt.Sprintf("q%d.load.example.org.", i), dns.TypeA)
				if err == nil && r.Rcode == dns.RcodeServerFailure {
					sf.Add(1)
					continue
				}
				outcome := "errors"
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					outcome = "timeouts"
				} else if err == nil {
					outcome = "other answers"
				}
				mu.Lock()
				others[outcome]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return sf.Load(), others
}
