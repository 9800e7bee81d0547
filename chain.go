package k8s_event

import (
	"math"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/record"
)

// component is the Event source component.
const component = "CoreDNS"

// chain is one client-go event broadcaster, with its correlator (LRU cache, aggregation,
// de-duplication) and its recorder. A pipeline has one at a time; a reload that changes
// CACHESIZE starts another.
type chain struct {
	cacheSize   int
	broadcaster record.EventBroadcaster
	recorder    record.EventRecorderLogger
	pending     atomic.Int64 // lines recorded here and not yet resolved
}

func newChain(p *pipeline, cacheSize int) *chain {
	c := &chain{cacheSize: cacheSize}
	c.broadcaster = record.NewBroadcaster(
		record.WithContext(p.ctx),
		record.WithCorrelatorOptions(record.CorrelatorOptions{
			LRUCacheSize: cacheSize,
			// The token buckets in front already charged every line: the correlator's
			// own spam filter must not refuse it again.
			BurstSize: math.MaxInt32,
			QPS:       float32(math.Inf(1)),
			Clock:     p.opts.clock,
		}),
	)
	c.broadcaster.StartRecordingToSink(&eventSink{p: p, chain: c})
	source := corev1.EventSource{Component: component, Host: p.opts.identity.nodeName}
	c.recorder = c.broadcaster.NewRecorder(scheme.Scheme, source).WithLogger(p.opts.log.logger())
	return c
}
