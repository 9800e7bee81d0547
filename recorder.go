package k8s_event

import (
	"context"
	"math"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// eventRecorder is the pipeline's client-go event broadcaster, with its correlator (LRU
// cache of CACHESIZE entries, aggregation, de-duplication) and its recorder, for the
// life of the process: one watcher hands every line to the sink, in order.
type eventRecorder struct {
	broadcaster record.EventBroadcaster
	recorder    record.EventRecorderLogger
}

// newEventRecorder starts a broadcaster whose correlator keeps cacheSize entries and
// writes through sink. Its events come from the node nodeName.
func newEventRecorder(ctx context.Context, cacheSize int, clk clock.Clock, nodeName string, log *selfLog, sink *eventSink) *eventRecorder {
	r := &eventRecorder{}
	r.broadcaster = record.NewBroadcaster(
		record.WithContext(klog.NewContext(ctx, log.broadcasterLogger())),
		record.WithCorrelatorOptions(record.CorrelatorOptions{
			LRUCacheSize: cacheSize,
			// The token buckets in front already charged every line: the correlator's
			// own spam filter must not refuse it again.
			BurstSize: math.MaxInt32,
			QPS:       float32(math.Inf(1)),
			// Similar lines (same reason, different messages) aggregate only with lines
			// of the same plugin: ten distinct errors lines do not turn a failed reload
			// into a patch of their combined event.
			KeyFunc:     sink.correlate,
			MessageFunc: combinedMessage,
			Clock:       clk,
		}),
	)
	r.broadcaster.StartRecordingToSink(sink)
	source := corev1.EventSource{Component: component, Host: nodeName}
	r.recorder = r.broadcaster.NewRecorder(scheme.Scheme, source).WithLogger(log.logger())
	return r
}

// record records ln, a line about ref, as an event.
func (r *eventRecorder) record(ref *corev1.ObjectReference, ln line) {
	// The message is formatted already: it goes in as an argument, never as a format.
	r.recorder.Eventf(ref, ln.level.eventType(), ln.level.reason(), "%s", ln.message)
}

// shutdown stops the broadcaster.
func (r *eventRecorder) shutdown() { r.broadcaster.Shutdown() }
