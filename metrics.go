package k8s_event

import (
	"github.com/coredns/coredns/plugin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	// linesCount counts the log lines that passed the level and plugin filters, by level,
	// whether or not they became an event.
	linesCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "k8s_event",
		Name:      "lines_total",
		Help:      "Counter of log lines selected for reporting, by level.",
	}, []string{"level"})

	// droppedCount counts selected lines that did not become an event, by reason.
	droppedCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "k8s_event",
		Name:      "dropped_total",
		Help:      "Counter of selected log lines that were not reported, by reason.",
	}, []string{"reason"})

	// writesCount counts the calls made to the Kubernetes Events API, by verb and result.
	writesCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "k8s_event",
		Name:      "api_writes_total",
		Help:      "Counter of Event API writes, by verb (create, patch, update) and result (success, error).",
	}, []string{"verb", "result"})
)

// Reasons a selected line is dropped.
const (
	dropRateLimited = "rate_limited" // the token bucket of its event type was empty
	dropQueueFull   = "queue_full"   // the hand-off queue to the sender was full
	dropBroadcaster = "broadcaster"  // client-go's broadcaster queue refused it
)

// Counters resolved once, so the log-call path neither hashes labels nor allocates.
var (
	linesByLevel       [numLevels]prometheus.Counter
	droppedRateLimited = droppedCount.WithLabelValues(dropRateLimited)
	droppedQueueFull   = droppedCount.WithLabelValues(dropQueueFull)
	droppedBroadcaster = droppedCount.WithLabelValues(dropBroadcaster)
)

func init() {
	for lv := range numLevels {
		linesByLevel[lv] = linesCount.WithLabelValues(lv.String())
	}
}
