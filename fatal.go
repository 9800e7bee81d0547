package k8s_event

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fatalWriter writes the event of a fatal line before the log call returns, since
// CoreDNS exits right after. Not through the backlog and the pipeline's correlator,
// which may be busy retrying earlier lines: it makes the event as client-go's recorder
// would and creates it through the sink's retrier, at once, within a timeout of its own.
type fatalWriter struct {
	ctx      context.Context // the pipeline's, for its logger; its cancellation is not the write's
	timeout  time.Duration   // bounds the write
	retrier  *retrier
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
	// Not canceled by stop: a fatal line may come during shutdown.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), w.timeout)
	defer cancel()
	// A UID lookup still running gets half the time; the write gets the rest.
	lookup, lookupDone := context.WithTimeout(ctx, w.timeout/2)
	defer lookupDone()
	select {
	case <-w.ref.done:
	case <-lookup.Done():
	}

	e := w.event(w.ref.load(), msg)
	lim := writeLimits{ctx: ctx, deadline: w.retrier.clock.Now().Add(w.timeout), lookup: lookup}
	written := make(chan writeResult, 1)
	go func() {
		written <- w.retrier.writeWithin(lim, "create", e, func(ctx context.Context, api eventWriter, e *corev1.Event) (*corev1.Event, error) {
			return api.CreateWithEventNamespaceWithContext(ctx, e)
		})
	}()
	var err error
	select {
	case res := <-written:
		err = res.err
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		w.log.printf(kindDropped, "event dropped: the event of a fatal line was not written: %v", err)
	}
}

// event returns the event of a fatal line, msg, about ref, as client-go's recorder makes
// one: named after ref and the nanosecond it was made, stamped then.
func (w *fatalWriter) event(ref *corev1.ObjectReference, msg string) *corev1.Event {
	now := metav1.NewTime(time.Now())
	ns := ref.Namespace
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	source := corev1.EventSource{Component: component, Host: w.nodeName}
	return &corev1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: fmt.Sprintf("%v.%x", ref.Name, now.UnixNano()), Namespace: ns},
		InvolvedObject:      *ref,
		Reason:              levelFatal.reason(),
		Message:             msg,
		FirstTimestamp:      now,
		LastTimestamp:       now,
		Count:               1,
		Type:                levelFatal.eventType(),
		Source:              source,
		ReportingController: source.Component,
		ReportingInstance:   source.Host,
	}
}
