package k8s_event

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	restclient "k8s.io/client-go/rest"
	"k8s.io/utils/clock"
)

// retrier writes events to the Events API, retrying what is worth it: when a try is
// made (backoff, the API server's Retry-After), which failures get another
// (failures), and until when (maxAge after the line was logged).
type retrier struct {
	ctx        context.Context // carries the plugin's logger; canceled when the pipeline stops
	clock      clock.Clock
	maxAge     time.Duration // how long after it was logged a line may still be tried
	apiTimeout time.Duration // bounds one try
	backoff    backoff
	quiet      quietPeriod // the API server's latest Retry-After
	client     *clientSlot
	ref        *podReference
	log        *selfLog
}

// writeResult is how the write of an event ended: stored, or dropped for a reason.
type writeResult struct {
	stored *corev1.Event // the Event the API stored, as recorded (see asRecorded); nil if dropped
	drop   string        // if dropped, why (dropped_total's reason): rejected, retries_exhausted or shutdown
	err    error         // what it was dropped for
}

// stored is the result of a write the API stored as e.
func stored(e *corev1.Event) writeResult { return writeResult{stored: e} }

// dropped is the result of a write given up for reason, after err.
func dropped(reason string, err error) writeResult { return writeResult{drop: reason, err: err} }

// eventCall is one Events API request of a write.
type eventCall func(context.Context, eventWriter, *corev1.Event) (*corev1.Event, error)

// write makes one Events API call for e, retrying the failures worth it (see failures)
// with capped exponential backoff, or the server's Retry-After if longer, each wait
// lengthened by jitter, but never past the deadline: jitter never takes a try away. No try,
// the first included, starts more than maxAge after the line was logged (e's last
// timestamp, see stamped); each try is bounded by apiTimeout. No try is sent while the
// API server's latest Retry-After, for whichever line, runs, up to maxAge (see
// quietPeriod). It returns the Event stored, or why it gave up.
func (r *retrier) write(verb string, e *corev1.Event, call eventCall) writeResult {
	return r.writeWithin(writeLimits{ctx: r.ctx, deadline: e.LastTimestamp.Add(r.maxAge), lookup: r.ctx, uidFirst: true}, verb, e, call)
}

// writeLimits bound one write.
type writeLimits struct {
	ctx      context.Context // ends the write, as at shutdown: the pipeline's, or a fatal line's own
	deadline time.Time       // no try starts after it
	lookup   context.Context // ends the wait for the Pod UID lookup's first try
	// uidFirst: no try is sent while the lookup's latest try failed for a reason a write
	// would retry; the write waits as after a failed try (a fatal line's does not wait).
	uidFirst bool
}

// errUIDPending is why a try was not sent: the Pod UID lookup tried just before failed
// for a reason a write would be retried for.
var errUIDPending = errors.New("the Pod UID lookup just failed for a reason a write would retry: " +
	"the event waits for it, so that it is not stored without the UID")

// writeWithin is write within lim.
func (r *retrier) writeWithin(lim writeLimits, verb string, e *corev1.Event, call eventCall) writeResult {
	clk := r.clock
	deadline := lim.deadline
	var backoff time.Duration // the latest wait before jitter
	var seen failures
	var lastErr error // the latest try's failure
	for {
		if until := r.quiet.end(); clk.Now().Before(until) {
			if !until.Before(deadline) { // no time left to send it once the quiet ends
				return dropped(dropRetriesExhausted, quietError{until})
			}
			if !r.sleep(lim.ctx, until.Sub(clk.Now())) {
				return dropped(dropShutdown, lim.ctx.Err())
			}
		}
		client, err := r.client.wait(lim.ctx, r.clock, deadline)
		if err != nil {
			seen.unreachable = true // no client yet, or shutting down (checked below)
		} else if r.ref.waitLookup(lim.lookup) && lim.uidFirst {
			err = errUIDPending
		} else {
			if now := clk.Now(); now.After(deadline) {
				// Its turn came late: the lines before it took their time, or a wait overran.
				return dropped(dropRetriesExhausted, lateError{age: now.Sub(e.LastTimestamp.Time), last: lastErr})
			}
			sent := complete(e, r.ref.load())
			ctx, cancel := context.WithTimeout(lim.ctx, r.apiTimeout)
			var out *corev1.Event
			out, err = call(ctx, eventsAPI(client), sent)
			cancel()
			countWrite(verb, err)
			if err == nil {
				return stored(asRecorded(out, e))
			}
			if verb == "create" && seen.ownEvent(err) {
				// An earlier try was stored and its answer lost. Returned as written, the
				// event's name goes to the correlator, which patches it for a repeat.
				return stored(asRecorded(sent, e))
			}
			if !seen.retryable(err) {
				return dropped(dropRejected, err)
			}
		}
		if lim.ctx.Err() != nil {
			return dropped(dropShutdown, err)
		}
		backoff = r.backoff.next(backoff)
		if d, ok := apierrors.SuggestsClientDelay(err); ok {
			asked := time.Duration(d) * time.Second
			r.quiet.extend(clk.Now().Add(min(asked, r.maxAge)))
			backoff = max(backoff, asked)
		}
		// Whether there is a next try is the server's and the schedule's call (backoff,
		// before jitter); jitter only spreads it, up to the deadline.
		left := deadline.Sub(clk.Now())
		if backoff > left {
			return dropped(dropRetriesExhausted, fmt.Errorf("%w (the next try, in %s, would be too late)", err, backoff))
		}
		wait := min(r.backoff.jittered(backoff), left)
		r.log.printf(kindDelivery, "event delivery: could not write an event, retrying in %s: %v", wait, err)
		if !r.sleep(lim.ctx, wait) {
			return dropped(dropShutdown, err)
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

// sleep waits d, and reports false if ctx ended first.
func (r *retrier) sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-r.clock.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}

// countWrite counts one Events API request.
func countWrite(verb string, err error) {
	result := "success"
	if err != nil {
		result = "error"
	}
	writesCount.WithLabelValues(verb, result).Inc()
}

// quietPeriod is when the API server's latest Retry-After ends: until then nothing from
// the backlog is sent, whichever line's write the server answered. A line whose time
// runs out first is dropped unsent (see write): the lines behind one given a longer wait
// than it has left do not go out one after the other in the time the server asked to be
// left alone. The quiet lasts at most maxAge from the answer, the most a line logged by
// then can still use: a longer one would only drop the lines logged after it.
type quietPeriod struct {
	mu    sync.Mutex
	until time.Time
}

// extend makes the quiet last until t at least.
func (q *quietPeriod) extend(t time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if t.After(q.until) {
		q.until = t
	}
}

// end returns when the quiet ends; the zero time if the server never asked for one.
func (q *quietPeriod) end() time.Time {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.until
}

// quietError is why a line is dropped unsent: the quiet the API server asked for lasts
// longer than the line may wait.
type quietError struct{ until time.Time }

func (e quietError) Error() string {
	return fmt.Sprintf("not sent: the API server asked for no requests until %s (Retry-After)", e.until.Format(time.RFC3339))
}

// transient reports whether an Events API failure is worth retrying: the API server is
// overloaded, restarting or unreachable (429, 500, 502, 503, 504, timeouts, connection
// errors). Any other answer of the API (400, 403, 404, 409, 422, ...) is final.
func transient(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		var construction *restclient.RequestConstructionError
		return !errors.As(err, &construction)
	}
	switch status.Status().Code {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// maxAuthRetries bounds the retries of a 401 or 403 answered right after the API server
// was unreachable (see failures).
const maxAuthRetries = 5

// failures is what one write has met so far, to tell whether its latest failure is
// worth another try: a transient one always is. A 401 or 403 is too, a few times, right
// after the API server was unreachable: a starting API server refuses requests until
// its authenticators and authorizers are ready.
type failures struct {
	unreachable bool // a try found no API server to answer (no client yet, a connection error)
	refusals    int  // 401s and 403s so far
	mayBeStored bool // a try that failed may have been carried out (see mayHaveLanded)
}

// retryable records err, the latest failure, and tells whether to try again.
func (f *failures) retryable(err error) bool {
	refusal := apierrors.IsUnauthorized(err) || apierrors.IsForbidden(err)
	retry := transient(err) || (refusal && f.unreachable && f.refusals < maxAuthRetries)
	if refusal {
		f.refusals++
	}
	f.unreachable = f.unreachable || !isStatus(err)
	f.mayBeStored = f.mayBeStored || mayHaveLanded(err)
	return retry
}

// ownEvent reports whether err, the answer to a create, says that the event exists
// because an earlier try of the same create was stored. client-go's recorder names an
// event after its object and the nanosecond it made it, so nothing else has its name:
// a 409 AlreadyExists after a try that may have been stored is that try's event. On a
// first try, or after answers that say the server did not take the request, the name
// is another event's, and the line is refused.
func (f *failures) ownEvent(err error) bool {
	return f.mayBeStored && apierrors.IsAlreadyExists(err)
}

// mayHaveLanded reports whether a failed try may have been stored anyway: the request
// went out and no answer says the server refused it. No answer came (a timeout, a
// dropped connection), or a 5xx, which a server or a proxy in front of it may send
// after the write was made.
func mayHaveLanded(err error) bool {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return status.Status().Code >= http.StatusInternalServerError
	}
	var construction *restclient.RequestConstructionError
	return !errors.As(err, &construction) && !utilnet.IsConnectionRefused(err)
}

// isStatus reports whether err is an answer of the API server.
func isStatus(err error) bool {
	var status apierrors.APIStatus
	return errors.As(err, &status)
}

// finalError returns err as an error client-go's recorder gives up on at once (an API
// status), since the sink already retried it: client-go would otherwise retry it 12
// times more, the line counted once already.
func finalError(err error) error {
	if err == nil {
		return nil
	}
	var status *apierrors.StatusError
	if errors.As(err, &status) {
		return status
	}
	var construction *restclient.RequestConstructionError
	if errors.As(err, &construction) {
		return construction
	}
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusServiceUnavailable,
		Reason:  metav1.StatusReasonServiceUnavailable,
		Message: err.Error(),
	}}
}
