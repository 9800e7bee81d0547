package k8s_event

import (
	"fmt"
	"sync"
	"time"
)

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
