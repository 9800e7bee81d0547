package k8s_event

import (
	"sync/atomic"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
)

// stripedCounterVec is a counter family with a fixed set of values for its one label,
// for the counters every log line increments on the goroutine that logs it (lines_total,
// dropped_total). CoreDNS serves queries on every core, and during a flood each of them
// logs: a single counter would be one cache line that every core writes for every line,
// the costliest part of a refused line once the token buckets take no lock. Each value
// is therefore counted in stripes, one cache line each, summed when Prometheus scrapes.
// Every value is exported from the start, at 0.
type stripedCounterVec struct {
	desc   *prometheus.Desc
	values map[string]*stripedCounter
	order  []*stripedCounter
}

// newStripedCounterVec makes the family and registers it with the default registry, as
// promauto does.
func newStripedCounterVec(opts prometheus.CounterOpts, label string, values ...string) *stripedCounterVec {
	v := &stripedCounterVec{
		desc:   prometheus.NewDesc(prometheus.BuildFQName(opts.Namespace, opts.Subsystem, opts.Name), opts.Help, []string{label}, nil),
		values: make(map[string]*stripedCounter, len(values)),
	}
	for _, value := range values {
		c := &stripedCounter{desc: v.desc, label: value}
		v.values[value] = c
		v.order = append(v.order, c)
	}
	prometheus.MustRegister(v)
	return v
}

// WithLabelValues returns the counter of value, one of those the family was made with.
func (v *stripedCounterVec) WithLabelValues(value string) *stripedCounter {
	c, ok := v.values[value]
	if !ok {
		panic("k8s_event: no counter " + v.desc.String() + " for " + value)
	}
	return c
}

// Describe implements the prometheus.Collector interface.
func (v *stripedCounterVec) Describe(ch chan<- *prometheus.Desc) { ch <- v.desc }

// Collect implements the prometheus.Collector interface.
func (v *stripedCounterVec) Collect(ch chan<- prometheus.Metric) {
	for _, c := range v.order {
		c.Collect(ch)
	}
}

// counterStripes is the number of stripes of a counter.
const (
	stripeBits     = 5
	counterStripes = 1 << stripeBits
)

// stripedCounter is the counter of one label value.
type stripedCounter struct {
	desc    *prometheus.Desc
	label   string // the value of the family's label
	stripes [counterStripes]struct {
		n atomic.Uint64
		_ [56]byte // a cache line each
	}
}

// Inc adds one.
func (c *stripedCounter) Inc() { c.stripes[stripe()].n.Add(1) }

// Add adds n.
func (c *stripedCounter) Add(n uint64) { c.stripes[stripe()].n.Add(n) }

// Value returns the sum of the stripes.
func (c *stripedCounter) Value() uint64 {
	var sum uint64
	for i := range c.stripes {
		sum += c.stripes[i].n.Load()
	}
	return sum
}

// Describe implements the prometheus.Collector interface.
func (c *stripedCounter) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements the prometheus.Collector interface.
func (c *stripedCounter) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(c.Value()), c.label)
}

// stripe picks the stripe of the calling goroutine from where its stack is: goroutines
// have stacks of their own, so those logging at once mostly write to different cache
// lines, and a goroutine keeps writing to the same few. The address is only hashed,
// never used as a pointer.
func stripe() int {
	var mark byte
	addr := uint64(uintptr(unsafe.Pointer(&mark)))
	return int((addr >> 11) * 0x9e3779b97f4a7c15 >> (64 - stripeBits))
}
