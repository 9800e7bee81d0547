package k8s_event

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// eventSink is the record.EventSink a chain's correlator writes through. client-go hands
// it one event at a time, in the order lines were recorded, and calls Patch for a
// repeated line (then Create, if the Event to patch is gone) and Create for a new one.
//
// The sink retries transient failures itself (see write), and returns only errors
// client-go does not retry, so each line ends in exactly one resolve.
type eventSink struct {
	p *pipeline
	// logged is when the line the correlator was last given was logged, in Unix
	// nanoseconds: the sink's next calls are that line's (see correlate).
	logged atomic.Int64
}

// correlate is the correlator's aggregation key (aggregateByPlugin). It also notes when
// the line was logged: client-go calls it with the line's own event, then hands the sink
// either that event or, for a line it combines with similar ones, one of its own,
// stamped when it combined them, which is later than the line was logged when the sink
// was busy retrying earlier lines.
func (s *eventSink) correlate(e *corev1.Event) (string, string) {
	s.logged.Store(e.LastTimestamp.UnixNano())
	return aggregateByPlugin(e)
}

// stamped returns e, and data, the patch of e, with the time its line was logged as
// the last timestamp, and as the first if e is a new event; on copies, if they differ.
func (s *eventSink) stamped(e *corev1.Event, data []byte) (*corev1.Event, []byte) {
	logged := metav1.NewTime(time.Unix(0, s.logged.Load()))
	if e.LastTimestamp.Equal(&logged) {
		return e, data
	}
	c := *e
	c.LastTimestamp = logged
	if c.Count <= 1 {
		c.FirstTimestamp = logged
	}
	return &c, stampedPatch(data, logged)
}

// stampedPatch returns data, a patch of client-go's correlator, with lastTimestamp set
// to logged; data itself if it has none.
func stampedPatch(data []byte, logged metav1.Time) []byte {
	var fields map[string]json.RawMessage
	if json.Unmarshal(data, &fields) != nil || fields["lastTimestamp"] == nil {
		return data
	}
	stamp, err := json.Marshal(logged)
	if err != nil {
		return data
	}
	fields["lastTimestamp"] = stamp
	out, err := json.Marshal(fields)
	if err != nil {
		return data
	}
	return out
}

// Create implements the record.EventSink interface.
func (s *eventSink) Create(e *corev1.Event) (*corev1.Event, error) {
	e, _ = s.stamped(e, nil)
	out, reason, err := s.p.write("create", e, func(ctx context.Context, api eventWriter, e *corev1.Event) (*corev1.Event, error) {
		return api.CreateWithEventNamespaceWithContext(ctx, e)
	})
	s.resolve(outcomeCreated, reason, err)
	return out, finalError(err)
}

// Patch implements the record.EventSink interface.
func (s *eventSink) Patch(e *corev1.Event, data []byte) (*corev1.Event, error) {
	e, data = s.stamped(e, data)
	out, reason, err := s.p.write("patch", e, func(ctx context.Context, api eventWriter, e *corev1.Event) (*corev1.Event, error) {
		return api.PatchWithEventNamespaceWithContext(ctx, e, data)
	})
	if apierrors.IsNotFound(err) {
		return out, err // client-go creates the Event instead: the line is still on its way
	}
	s.resolve(outcomeMerged, reason, err)
	return out, finalError(err)
}

// Update implements the record.EventSink interface. client-go's recorder does not call
// it; it is there for the interface, and counted as a merge like Patch.
func (s *eventSink) Update(e *corev1.Event) (*corev1.Event, error) {
	e, _ = s.stamped(e, nil)
	out, reason, err := s.p.write("update", e, func(ctx context.Context, api eventWriter, e *corev1.Event) (*corev1.Event, error) {
		return api.UpdateWithEventNamespaceWithContext(ctx, e)
	})
	s.resolve(outcomeMerged, reason, err)
	return out, finalError(err)
}

// resolve ends a line's way: outcome if the API stored it, else the drop reason, and why.
func (s *eventSink) resolve(outcome, reason string, err error) {
	s.p.printDrop(reason, err)
	s.p.backlog.resolve(outcome, reason)
}

// printDrop prints why a line was dropped, if it was. Drops are a kind of message of
// their own (see selfLog): what is printed about lines still on their way never holds
// back the news of a line lost.
func (p *pipeline) printDrop(reason string, err error) {
	switch reason {
	case dropRejected:
		p.opts.log.printf("event dropped: the API refused it: %v", err)
	case dropRetriesExhausted:
		p.opts.log.printf("event dropped: not written within %s of being logged: %v", p.opts.maxAge, err)
	}
}

type eventCall func(context.Context, eventWriter, *corev1.Event) (*corev1.Event, error)

// write makes one Events API call for e, retrying the failures worth it (see failures)
// with capped exponential backoff, or the server's Retry-After if longer, each wait
// lengthened by jitter. No try, the first included, starts more than maxAge after the
// line was logged (e's last timestamp, see stamped); each try is bounded by apiTimeout.
// No try is sent while the API server's latest Retry-After, for whichever line, runs,
// up to maxAge (see quietPeriod). It returns the drop reason when it gives up: rejected,
// retries_exhausted or shutdown.
func (p *pipeline) write(verb string, e *corev1.Event, call eventCall) (*corev1.Event, string, error) {
	clk := p.opts.clock
	deadline := e.LastTimestamp.Add(p.opts.maxAge)
	var backoff time.Duration // the latest wait before jitter
	var seen failures
	var lastErr error // the latest try's failure
	for {
		if until := p.quiet.end(); clk.Now().Before(until) {
			if !until.Before(deadline) { // no time left to send it once the quiet ends
				return nil, dropRetriesExhausted, quietError{until}
			}
			if !p.sleep(until.Sub(clk.Now())) {
				return nil, dropShutdown, p.ctx.Err()
			}
		}
		client, err := p.client.wait(p.ctx, p.opts.clock, deadline)
		if err != nil {
			seen.unreachable = true // no client yet, or shutting down (checked below)
		} else {
			p.ref.waitFirstLookup(p.ctx)
			if now := clk.Now(); now.After(deadline) {
				// Its turn came late: the lines before it took their time, or a wait overran.
				return nil, dropRetriesExhausted, lateError{age: now.Sub(deadline) + p.opts.maxAge, last: lastErr}
			}
			sent := p.complete(e)
			ctx, cancel := context.WithTimeout(p.ctx, p.opts.apiTimeout)
			var out *corev1.Event
			out, err = call(ctx, eventsAPI(client), sent)
			cancel()
			countWrite(verb, err)
			if err == nil {
				return asRecorded(out, e), "", nil
			}
			if verb == "create" && seen.ownEvent(err) {
				// An earlier try was stored and its answer lost. Returned as written, the
				// event's name goes to the correlator, which patches it for a repeat.
				return asRecorded(sent, e), "", nil
			}
			if !seen.retryable(err) {
				return nil, dropRejected, err
			}
		}
		if p.ctx.Err() != nil {
			return nil, dropShutdown, err
		}
		backoff = p.opts.retry.next(backoff)
		if d, ok := apierrors.SuggestsClientDelay(err); ok {
			asked := time.Duration(d) * time.Second
			p.quiet.extend(clk.Now().Add(min(asked, p.opts.maxAge)))
			backoff = max(backoff, asked)
		}
		wait := p.opts.retry.jittered(backoff)
		if clk.Now().Add(wait).After(deadline) {
			return nil, dropRetriesExhausted, fmt.Errorf("%w (the next try, in %s, would be too late)", err, wait)
		}
		p.opts.log.printf("event delivery: could not write an event, retrying in %s: %v", wait, err)
		if !p.sleep(wait) {
			return nil, dropShutdown, err
		}
		lastErr = err
	}
}

// lateError is why a line is dropped when its turn for a try comes after its deadline.
type lateError struct {
	age  time.Duration // since the line was logged
	last error         // the failure of the line's latest try; nil if it had none
}

func (e lateError) Error() string {
	if e.last == nil {
		return fmt.Sprintf("not sent: its turn came %s after it was logged", e.age.Round(time.Second))
	}
	return fmt.Sprintf("%v (the next try came %s after it was logged)", e.last, e.age.Round(time.Second))
}

func (e lateError) Unwrap() error { return e.last }

// sleep waits d on the pipeline's clock, and reports false if the pipeline stopped first.
func (p *pipeline) sleep(d time.Duration) bool {
	select {
	case <-p.opts.clock.After(d):
		return true
	case <-p.ctx.Done():
		return false
	}
}

// complete fills in what an event may lack when it reaches the sink, on a copy: the Pod
// UID, if the lookup found it after e was recorded, so that lines logged at start-up,
// before the API could be reached, are shown by kubectl describe pod too; the plugin
// annotation, which client-go's correlator leaves out of the event it makes for
// aggregated lines, taken from the message; and the source component that names the
// plugin (sourceComponent), which the chain's one recorder cannot set per line.
func (p *pipeline) complete(e *corev1.Event) *corev1.Event {
	ref := p.ref.load()
	obj := &e.InvolvedObject
	needsUID := obj.UID == "" && ref.UID != "" && obj.Kind == ref.Kind && obj.Name == ref.Name && obj.Namespace == ref.Namespace
	plugin, annotated := e.Annotations[pluginAnnotation]
	if !annotated {
		plugin = pluginOfMessage(e.Message)
	}
	annotate := !annotated && plugin != ""
	source := sourceComponent(plugin)
	if !needsUID && !annotate && e.Source.Component == source {
		return e
	}
	c := *e
	if needsUID {
		c.InvolvedObject.UID = ref.UID
	}
	if annotate {
		c.Annotations = make(map[string]string, len(e.Annotations)+1)
		for k, v := range e.Annotations {
			c.Annotations[k] = v
		}
		c.Annotations[pluginAnnotation] = plugin
	}
	c.Source.Component = source
	return &c
}

// asRecorded returns out, the Event the API stored for e, with the fields complete may
// have changed put back as they were in e: client-go's correlator files the Event the sink
// returns under a key made of them, and looks the next line up under the key of the
// Event it recorded. With two keys a written line would take two of the CACHESIZE
// entries, and a repeat would not find the Event to patch.
func asRecorded(out, e *corev1.Event) *corev1.Event {
	if out == nil || (out.Source == e.Source && out.InvolvedObject.UID == e.InvolvedObject.UID) {
		return out
	}
	c := *out
	c.Source = e.Source
	c.InvolvedObject.UID = e.InvolvedObject.UID
	return &c
}

func countWrite(verb string, err error) {
	result := "success"
	if err != nil {
		result = "error"
	}
	writesCount.WithLabelValues(verb, result).Inc()
}
