package k8s_event

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
)

// flushReason marks the event the reporter sends through client-go's pipeline when it
// stops: when it reaches the sink, everything recorded before it has been tried. It is
// never written.
const flushReason = "K8sEventFlush"

// eventSink is the record.EventSink client-go writes through. Each call is bounded by a
// timeout and by the reporter's lifetime, so a hung API server can hold neither a
// goroutine nor shutdown for long, and each call is counted.
type eventSink struct {
	api     atomic.Pointer[eventsAPI]
	ctx     context.Context
	timeout time.Duration

	flushOnce sync.Once
	flushed   chan struct{}
}

// eventsAPI is the Events client in use; a reload may replace it.
type eventsAPI struct{ typedcorev1.EventInterface }

func newEventSink(ctx context.Context, timeout time.Duration) *eventSink {
	return &eventSink{ctx: ctx, timeout: timeout, flushed: make(chan struct{})}
}

func (s *eventSink) use(events typedcorev1.EventInterface) { s.api.Store(&eventsAPI{events}) }

// Create implements the record.EventSink interface.
func (s *eventSink) Create(e *corev1.Event) (*corev1.Event, error) {
	if e.Reason == flushReason {
		s.flushOnce.Do(func() { close(s.flushed) })
		return e, nil
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	defer cancel()
	return s.create(ctx, e)
}

func (s *eventSink) create(ctx context.Context, e *corev1.Event) (*corev1.Event, error) {
	out, err := s.api.Load().CreateWithEventNamespaceWithContext(ctx, e)
	countWrite("create", err)
	return out, err
}

// Update implements the record.EventSink interface.
func (s *eventSink) Update(e *corev1.Event) (*corev1.Event, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	defer cancel()
	out, err := s.api.Load().UpdateWithEventNamespaceWithContext(ctx, e)
	countWrite("update", err)
	return out, err
}

// Patch implements the record.EventSink interface.
func (s *eventSink) Patch(e *corev1.Event, data []byte) (*corev1.Event, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	defer cancel()
	out, err := s.api.Load().PatchWithEventNamespaceWithContext(ctx, e, data)
	countWrite("patch", err)
	return out, err
}

func countWrite(verb string, err error) {
	result := "success"
	if err != nil {
		result = "error"
	}
	writesCount.WithLabelValues(verb, result).Inc()
}
