package k8s_event

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/record"
)

// writeFatal writes a fatal line's event before returning, since CoreDNS exits right
// after. The event is made by a client-go recorder of its own, as every other line's,
// but not through the backlog and the pipeline's correlator, which may be busy retrying
// earlier lines: its sink writes it once, at once. writeFatal returns after fatalTimeout
// at the latest, even if the client does not honour its context. It runs on the logging
// goroutine with CoreDNS's listener lock held, so it reports failures through the
// plugin's own printer only (see selfLog): logging through a plugin logger there would
// deadlock against a listener registration waiting for the lock.
func (p *pipeline) writeFatal(prefix, msg string) {
	timeout := p.opts.fatalTimeout
	// Not canceled by stop: a fatal line may come during shutdown.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), timeout)
	defer cancel()
	// A UID lookup still running gets half the time; the write gets the rest.
	half := time.NewTimer(timeout / 2)
	defer half.Stop()
	select {
	case <-p.ref.done:
	case <-half.C:
	}

	sink := &fatalSink{p: p, ctx: ctx, deadline: time.Now().Add(timeout), written: make(chan error, 1)}
	b := record.NewBroadcaster(record.WithContext(ctx))
	defer b.Shutdown() // returns at once: it waits for nothing the sink does
	b.StartRecordingToSink(sink)
	source := corev1.EventSource{Component: component, Host: p.opts.identity.nodeName}
	b.NewRecorder(scheme.Scheme, source).WithLogger(p.opts.log.logger()).AnnotatedEventf(p.ref.load(),
		annotations(pluginOf(prefix)), levelFatal.eventType(), levelFatal.reason(), "%s", msg)

	var err error
	select {
	case err = <-sink.written:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		p.opts.log.printf("event dropped: the event of a fatal line was not written: %v", err)
	}
}

// fatalSink is the record.EventSink of a fatal line's recorder: it creates the one event
// it is given, once, and tells writeFatal how that went.
type fatalSink struct {
	p        *pipeline
	ctx      context.Context
	deadline time.Time // for a client that does not exist yet
	written  chan error
}

// Create implements the record.EventSink interface.
func (s *fatalSink) Create(e *corev1.Event) (*corev1.Event, error) {
	client, err := s.p.client.wait(s.p.ctx, s.p.opts.clock, s.deadline)
	var out *corev1.Event
	if err == nil {
		out, err = eventsAPI(client).CreateWithEventNamespaceWithContext(s.ctx, complete(e, s.p.ref.load()))
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
