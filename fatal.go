package k8s_event

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
)

// fatalWriter writes the event of a fatal line before the log call returns, since
// CoreDNS exits right after. The event is made by a client-go recorder of its own, as
// every other line's, but not through the backlog and the pipeline's correlator, which
// may be busy retrying earlier lines: its sink writes it once, at once.
type fatalWriter struct {
	ctx      context.Context // the pipeline's, for its logger; its cancellation is not the write's
	timeout  time.Duration   // bounds the write
	clock    clock.Clock
	client   *clientSlot
	ref      *podReference
	nodeName string
	log      *selfLog
}

// write writes the event of a fatal line, msg. It returns after the timeout at the
// latest, even if the client does not honour its context. It runs on the logging
// goroutine with CoreDNS's listener lock held, so it reports failures through the
// plugin's own printer only (see selfLog): logging through a plugin logger there would
// deadlock against a listener registration waiting for the lock.
func (w *fatalWriter) write(msg string) {
	timeout := w.timeout
	// Not canceled by stop: a fatal line may come during shutdown.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), timeout)
	defer cancel()
	// A UID lookup still running gets half the time; the write gets the rest.
	half := time.NewTimer(timeout / 2)
	defer half.Stop()
	select {
	case <-w.ref.done:
	case <-half.C:
	}

	sink := &fatalSink{w: w, ctx: ctx, deadline: time.Now().Add(timeout), written: make(chan error, 1)}
	b := record.NewBroadcaster(record.WithContext(ctx))
	defer b.Shutdown() // returns at once: it waits for nothing the sink does
	b.StartRecordingToSink(sink)
	source := corev1.EventSource{Component: component, Host: w.nodeName}
	b.NewRecorder(scheme.Scheme, source).WithLogger(w.log.logger()).Eventf(w.ref.load(),
		levelFatal.eventType(), levelFatal.reason(), "%s", msg)

	var err error
	select {
	case err = <-sink.written:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		w.log.printf("event dropped: the event of a fatal line was not written: %v", err)
	}
}

// fatalSink is the record.EventSink of a fatal line's recorder: it creates the one event
// it is given, once, and tells the writer how that went.
type fatalSink struct {
	w        *fatalWriter
	ctx      context.Context
	deadline time.Time // for a client that does not exist yet
	written  chan error
}

// Create implements the record.EventSink interface.
func (s *fatalSink) Create(e *corev1.Event) (*corev1.Event, error) {
	client, err := s.w.client.wait(s.w.ctx, s.w.clock, s.deadline)
	var out *corev1.Event
	if err == nil {
		out, err = eventsAPI(client).CreateWithEventNamespaceWithContext(s.ctx, complete(e, s.w.ref.load()))
	}
	s.written <- err
	if err != nil {
		return nil, finalError(err) // client-go would otherwise try again, after CoreDNS exited
	}
	if out == nil { // client-go's fakes may answer no object; the correlator needs one
		out = e
	}
	return out, nil
}

var errFatalNotCreated = errors.New("only creates the event of a fatal line")

// Patch implements the record.EventSink interface. A fatal line is the only line of its
// correlator, so client-go never patches it.
func (s *fatalSink) Patch(*corev1.Event, []byte) (*corev1.Event, error) {
	return nil, errFatalNotCreated
}

// Update implements the record.EventSink interface; client-go's recorder does not call it.
func (s *fatalSink) Update(*corev1.Event) (*corev1.Event, error) {
	return nil, errFatalNotCreated
}
