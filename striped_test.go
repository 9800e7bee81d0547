package k8s_event

import (
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestStripedCounterConcurrentIncrements(t *testing.T) {
	v := &stripedCounterVec{desc: prometheus.NewDesc("test_total", "test", []string{"reason"}, nil)}
	c := &stripedCounter{desc: v.desc, label: "a"}
	var wg sync.WaitGroup
	for range 16 {
		spawn(&wg, func() {
			for range 10000 {
				c.Inc()
			}
			c.Add(5)
		})
	}
	wg.Wait()
	if got, want := c.Value(), uint64(16*10005); got != want {
		t.Errorf("%d counted, want %d", got, want)
	}
	if got := testutil.ToFloat64(c); got != 16*10005 {
		t.Errorf("collected %v, want %d", got, 16*10005)
	}
}

// Every value of a family is exported from the start, under the family's name, and the
// hot path's counters are stripes of the exported ones.
func TestStripedCountersExported(t *testing.T) {
	want := map[string]bool{}
	for _, r := range []string{dropRateLimited, dropQueueFull, dropRejected, dropRetriesExhausted, dropShutdown} {
		want[r] = true
	}
	got := counterValues("coredns_k8s_event_dropped_total")
	for r := range want {
		if _, ok := got[r]; !ok {
			t.Errorf("dropped_total{reason=%q} not exported: %v", r, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("dropped_total exports %v, want the reasons %v", got, want)
	}
	// Every level but fatal: CoreDNS exits right after a fatal line.
	if n := len(counterValues("coredns_k8s_event_lines_total")); n != int(levelFatal) {
		t.Errorf("lines_total exports %d levels, want %d", n, levelFatal)
	}
	before := counterValues("coredns_k8s_event_dropped_total")[dropRateLimited]
	droppedRateLimited.Inc()
	if d := counterValues("coredns_k8s_event_dropped_total")[dropRateLimited] - before; d != 1 {
		t.Errorf("dropped_total{reason=rate_limited} grew by %v, want 1", d)
	}
}

func TestStripeInRange(t *testing.T) {
	var wg sync.WaitGroup
	seen := make([]int, 64)
	for g := range seen {
		spawn(&wg, func() { seen[g] = stripe() })
	}
	wg.Wait()
	distinct := map[int]bool{}
	for _, s := range seen {
		if s < 0 || s >= counterStripes {
			t.Fatalf("stripe %d out of [0, %d)", s, counterStripes)
		}
		distinct[s] = true
	}
	if len(distinct) < 4 {
		t.Errorf("64 goroutines used %d stripes, want them spread", len(distinct))
	}
}

// counterValues reads a counter family of the default registry by its one label.
func counterValues(name string) map[string]float64 {
	values := map[string]float64{}
	families, _ := prometheus.DefaultGatherer.Gather()
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			values[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	return values
}
