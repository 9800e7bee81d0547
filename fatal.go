package k8s_event

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record/util"
)

// writeFatal writes a fatal line's event before returning, since CoreDNS exits right
// after. It bypasses the backlog and the correlator, and returns after fatalTimeout at
// the latest, even if the client does not honour its context. It runs on the logging
// goroutine with CoreDNS's listener lock held, so it reports failures through the
// plugin's own printer only (see selfLog): logging through a plugin logger there would
// deadlock against a listener registration waiting for the lock.
func (p *pipeline) writeFatal(prefix, msg string) {
	timeout := p.opts.fatalTimeout
	ctx, cancel := context.WithTimeout(loggerContext(p), timeout)
	defer cancel()
	// A UID lookup still running gets half the time; the write gets the rest.
	half := time.NewTimer(timeout / 2)
	defer half.Stop()
	select {
	case <-p.refDone:
	case <-half.C:
	}
	ev := p.newEvent(levelFatal, prefix, msg)
	written := make(chan error, 1)
	go func() {
		client, err := p.waitClient(time.Now().Add(timeout))
		if err == nil {
			_, err = eventsAPI(client).CreateWithEventNamespaceWithContext(ctx, ev)
		}
		written <- err
	}()
	var err error
	select {
	case err = <-written:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		p.opts.log.printf("event delivery: could not write the event of a fatal line: %v", err)
	}
}

// loggerContext returns a context that carries the plugin's logger but is not canceled by stop:
// a fatal line may come during shutdown.
func loggerContext(p *pipeline) context.Context { return context.WithoutCancel(p.ctx) }

// newEvent builds an event the way client-go's recorder does.
func (p *pipeline) newEvent(lv level, prefix, msg string) *corev1.Event {
	ref := p.ref.Load()
	now := metav1.NewTime(time.Now())
	host := p.opts.identity.nodeName
	return &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{
			Name:        util.GenerateEventName(ref.Name, now.UnixNano()),
			Namespace:   eventNamespace(ref),
			Annotations: annotations(pluginOf(prefix)),
		},
		InvolvedObject:      *ref,
		Reason:              lv.reason(),
		Message:             msg,
		FirstTimestamp:      now,
		LastTimestamp:       now,
		Count:               1,
		Type:                lv.eventType(),
		Source:              corev1.EventSource{Component: component, Host: host},
		ReportingController: component,
		ReportingInstance:   host,
	}
}

// eventNamespace is where events on ref are written.
func eventNamespace(ref *corev1.ObjectReference) string {
	if ref.Namespace == "" {
		return metav1.NamespaceDefault
	}
	return ref.Namespace
}
