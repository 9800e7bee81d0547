package k8s_event

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// eventSink is the record.EventSink a chain's correlator writes through. client-go hands
// it one event at a time, in the order lines were recorded, and calls Patch for a
// repeated line (then Create, if the Event to patch is gone) and Create for a new one.
//
// The sink retries transient failures itself (see write), and returns only errors
// client-go does not retry, so each line ends in exactly one resolve.
type eventSink struct{ p *pipeline }

// Create implements the record.EventSink interface.
func (s *eventSink) Create(e *corev1.Event) (*corev1.Event, error) {
	out, reason, err := s.p.write("create", e, func(ctx context.Context, api eventWriter, e *corev1.Event) (*corev1.Event, error) {
		return api.CreateWithEventNamespaceWithContext(ctx, e)
	})
	s.resolve(outcomeCreated, reason)
	return out, finalError(err)
}

// Patch implements the record.EventSink interface.
func (s *eventSink) Patch(e *corev1.Event, data []byte) (*corev1.Event, error) {
	out, reason, err := s.p.write("patch", e, func(ctx context.Context, api eventWriter, e *corev1.Event) (*corev1.Event, error) {
		return api.PatchWithEventNamespaceWithContext(ctx, e, data)
	})
	if apierrors.IsNotFound(err) {
		return out, err // client-go creates the Event instead: the line is still on its way
	}
	s.resolve(outcomeMerged, reason)
	return out, finalError(err)
}

// Update implements the record.EventSink interface. client-go's recorder does not call
// it; it is there for the interface, and counted as a merge like Patch.
func (s *eventSink) Update(e *corev1.Event) (*corev1.Event, error) {
	out, reason, err := s.p.write("update", e, func(ctx context.Context, api eventWriter, e *corev1.Event) (*corev1.Event, error) {
		return api.UpdateWithEventNamespaceWithContext(ctx, e)
	})
	s.resolve(outcomeMerged, reason)
	return out, finalError(err)
}

func (s *eventSink) resolve(outcome, reason string) { s.p.resolve(outcome, reason) }

type eventCall func(context.Context, eventWriter, *corev1.Event) (*corev1.Event, error)

// write makes one Events API call for e, retrying the failures worth it (see failures)
// with capped exponential backoff, or the server's Retry-After if longer, until the line
// is maxAge old; each try is bounded by apiTimeout. It returns the drop reason when it
// gives up: rejected, retries_exhausted or shutdown.
func (p *pipeline) write(verb string, e *corev1.Event, call eventCall) (*corev1.Event, string, error) {
	clk := p.opts.clock
	deadline := e.LastTimestamp.Add(p.opts.maxAge) // the recorder stamps the line when logged
	var wait time.Duration
	var seen failures
	for {
		client, err := p.waitClient(deadline)
		if err != nil {
			seen.unreachable = true // no client yet, or shutting down (checked below)
		} else {
			p.waitFirstLookup()
			ctx, cancel := context.WithTimeout(p.ctx, p.opts.apiTimeout)
			var out *corev1.Event
			out, err = call(ctx, eventsAPI(client), p.complete(e))
			cancel()
			countWrite(verb, err)
			if err == nil {
				return out, "", nil
			}
			if !seen.retryable(err) {
				p.opts.log.printf("event delivery: dropped an event the API refused: %v", err)
				return nil, dropRejected, err
			}
		}
		if p.ctx.Err() != nil {
			return nil, dropShutdown, err
		}
		wait = p.opts.retry.next(wait)
		if d, ok := apierrors.SuggestsClientDelay(err); ok && time.Duration(d)*time.Second > wait {
			wait = time.Duration(d) * time.Second
		}
		if clk.Now().Add(wait).After(deadline) {
			p.opts.log.printf("event delivery: dropped an event after retrying for %s: %v", p.opts.maxAge, err)
			return nil, dropRetriesExhausted, err
		}
		p.opts.log.printf("event delivery: could not write an event, retrying in %s: %v", wait, err)
		select {
		case <-clk.After(wait):
		case <-p.ctx.Done():
			return nil, dropShutdown, err
		}
	}
}

// complete fills in what an event may lack when it reaches the sink, on a copy: the Pod
// UID, if the lookup found it after e was recorded, so that lines logged at start-up,
// before the API could be reached, are shown by kubectl describe pod too; and the plugin
// annotation, which client-go's correlator leaves out of the event it makes for
// aggregated lines, taken from the message.
func (p *pipeline) complete(e *corev1.Event) *corev1.Event {
	ref := p.ref.Load()
	obj := &e.InvolvedObject
	needsUID := obj.UID == "" && ref.UID != "" && obj.Kind == ref.Kind && obj.Name == ref.Name && obj.Namespace == ref.Namespace
	_, annotated := e.Annotations[pluginAnnotation]
	name := ""
	if !annotated {
		name = pluginOfMessage(e.Message)
	}
	if !needsUID && name == "" {
		return e
	}
	c := *e
	if needsUID {
		c.InvolvedObject.UID = ref.UID
	}
	if name != "" {
		c.Annotations = make(map[string]string, len(e.Annotations)+1)
		for k, v := range e.Annotations {
			c.Annotations[k] = v
		}
		c.Annotations[pluginAnnotation] = name
	}
	return &c
}

func countWrite(verb string, err error) {
	result := "success"
	if err != nil {
		result = "error"
	}
	writesCount.WithLabelValues(verb, result).Inc()
}
