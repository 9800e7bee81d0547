package k8s_event

import (
	"github.com/coredns/coredns/plugin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Every selected line ends in exactly one of: lines_total = reported_total (all outcomes)
// + dropped_total (all reasons) + the lines still on their way.
var (
	// linesCount counts the log lines that passed the level and plugin filters, by level.
	// A fatal line is not counted, nor the outcome of its event: CoreDNS exits right
	// after logging it, before anything could read the count.
	linesCount = newStripedCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "k8s_event",
		Name:      "lines_total",
		Help:      "Counter of log lines selected for reporting, by level.",
	}, "level", levelNames[:levelFatal]...)

	// reportedCount counts selected lines the API stored, by outcome: a new Event, or
	// merged into an existing one (its Count raised by a PATCH).
	reportedCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "k8s_event",
		Name:      "reported_total",
		Help:      "Counter of selected log lines written to the Events API, by outcome (created, merged).",
	}, []string{"outcome"})

	// droppedCount counts selected lines that did not become an event, by reason.
	droppedCount = newStripedCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "k8s_event",
		Name:      "dropped_total",
		Help:      "Counter of selected log lines that were not reported, by reason.",
	}, "reason", dropRateLimited, dropQueueFull, dropRejected, dropRetriesExhausted, dropShutdown)

	// writesCount counts the calls made to the Kubernetes Events API, retries included.
	writesCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "k8s_event",
		Name:      "api_writes_total",
		Help:      "Counter of Event API calls, retries included, by verb (create, patch) and result (success, error).",
	}, []string{"verb", "result"})
)

// Outcomes of a line the API stored.
const (
	outcomeCreated = "created" // a new Event
	outcomeMerged  = "merged"  // the Count of an existing Event raised
)

// Reasons a selected line is dropped.
const (
	dropRateLimited      = "rate_limited"      // the token bucket was empty
	dropQueueFull        = "queue_full"        // the backlog of lines on their way was full
	dropRejected         = "rejected"          // the API refused it for good (400, 403, 404, 409, 422, ...)
	dropRetriesExhausted = "retries_exhausted" // still failing when it was too old to write
	dropShutdown         = "shutdown"          // still on its way when the process stopped
)

// Counters the log-call path uses, resolved once so that it neither looks labels up nor
// allocates.
var (
	linesByLevel       [levelFatal]*stripedCounter
	droppedRateLimited = droppedCount.WithLabelValues(dropRateLimited)
	droppedQueueFull   = droppedCount.WithLabelValues(dropQueueFull)
	droppedShutdown    = droppedCount.WithLabelValues(dropShutdown)
)

func init() {
	for lv := range levelFatal {
		linesByLevel[lv] = linesCount.WithLabelValues(lv.String())
	}
}
