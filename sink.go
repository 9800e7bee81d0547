package k8s_event

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// eventSink is the record.EventSink the eventRecorder's correlator writes through.
// client-go hands it one event at a time, in the order lines were recorded, and calls
// Patch for a repeated line (then Create, if the Event to patch is gone) and Create for
// a new one.
//
// The sink retries transient failures itself (see retrier.write), and returns only
// errors client-go does not retry, so each line ends in exactly one resolve.
type eventSink struct {
	retrier *retrier
	backlog *backlog
	// logged is when the line the correlator was last given was logged, in Unix
	// nanoseconds: the sink's next calls are that line's (see correlate).
	logged atomic.Int64
}

// correlate returns the correlator's aggregation key (aggregateByPlugin). It also notes when
// the line was logged: client-go calls it with the line's own event, then hands the sink
// either that event or, for a line it combines with similar ones, one of its own,
// stamped when it combined them, which is later than the line was logged when the sink
// was busy retrying earlier lines.
func (s *eventSink) correlate(e *corev1.Event) (string, string) {
	s.logged.Store(e.LastTimestamp.UnixNano())
	return aggregateByPlugin(e)
}

// stamped returns e, and data, the patch of e, with the time its line was logged as
// the last timestamp, and as the first if e is to be created; on copies, if they differ.
// An event is created with Count above 1 when client-go patched its Event and found it
// deleted: it then carries the first timestamp client-go's cache noted, for a combined
// event its own clock's reading when it combined the lines, which may be minutes after
// they were logged. The Event created again starts at its line, like any other.
func (s *eventSink) stamped(e *corev1.Event, data []byte, create bool) (*corev1.Event, []byte) {
	logged := metav1.NewTime(time.Unix(0, s.logged.Load()))
	first := e.FirstTimestamp
	if create || e.Count <= 1 {
		first = logged
	}
	if e.LastTimestamp.Equal(&logged) && e.FirstTimestamp.Equal(&first) {
		return e, data
	}
	c := *e
	c.LastTimestamp, c.FirstTimestamp = logged, first
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
	e, _ = s.stamped(e, nil, true)
	res := s.retrier.write("create", e, func(ctx context.Context, api eventWriter, e *corev1.Event) (*corev1.Event, error) {
		return api.CreateWithEventNamespaceWithContext(ctx, e)
	})
	s.resolve(outcomeCreated, res)
	return res.stored, finalError(res.err)
}

// Patch implements the record.EventSink interface.
func (s *eventSink) Patch(e *corev1.Event, data []byte) (*corev1.Event, error) {
	e, data = s.stamped(e, data, false)
	res := s.retrier.write("patch", e, func(ctx context.Context, api eventWriter, e *corev1.Event) (*corev1.Event, error) {
		return api.PatchWithEventNamespaceWithContext(ctx, e, data)
	})
	if apierrors.IsNotFound(res.err) {
		return nil, res.err // client-go creates the Event instead: the line is still on its way
	}
	s.resolve(outcomeMerged, res)
	return res.stored, finalError(res.err)
}

// Update implements the record.EventSink interface. client-go's recorder does not call
// it; it is there for the interface, and counted as a merge like Patch.
func (s *eventSink) Update(e *corev1.Event) (*corev1.Event, error) {
	e, _ = s.stamped(e, nil, false)
	res := s.retrier.write("update", e, func(ctx context.Context, api eventWriter, e *corev1.Event) (*corev1.Event, error) {
		return api.UpdateWithEventNamespaceWithContext(ctx, e)
	})
	s.resolve(outcomeMerged, res)
	return res.stored, finalError(res.err)
}

// resolve counts a line as done: outcome if the API stored it, else its drop reason and why.
func (s *eventSink) resolve(outcome string, res writeResult) {
	s.printDrop(res)
	s.backlog.resolve(outcome, res.drop)
}

// printDrop prints why a line was dropped, if it was. Drops are a kind of message of
// their own (see selfLog): what is printed about lines still on their way never holds
// back the news of a line lost.
func (s *eventSink) printDrop(res writeResult) {
	switch res.drop {
	case dropRejected:
		s.retrier.log.printf(kindDropped, "event dropped: the API refused it: %v", res.err)
	case dropRetriesExhausted:
		s.retrier.log.printf(kindDropped, "event dropped: not written within %s of being logged: %v", s.retrier.maxAge, res.err)
	}
}
