package k8s_event

import (
	"context"
	"math"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
)

// A Retry-After longer than the time a line has left drops that line, and quiets the
// lines behind it too: the API server asked for an hour without requests, and 20 lines
// logged together before its answer, each with less than 15 minutes to go, are dropped
// without being sent: the quiet lasts the 15 minutes the newest of them could use.
func TestRetryAfterBeyondALinesTimeQuietsTheLinesBehind(t *testing.T) {
	srv := &apfServer{refusals: 1000, retryAfter: 3600}
	p, clk := startAPFPipeline(t, srv, "k8s_event {\n rate 1 25\n}")
	// The pipeline's clock a second ahead of the recorder's, which stamps the lines: the
	// answer comes after they were logged.
	clk.Step(time.Second)
	// Similar lines aggregate from the 10th on: those are patches.
	failed := func() float64 {
		return testutil.ToFloat64(writesCount.WithLabelValues("create", "error")) + testutil.ToFloat64(writesCount.WithLabelValues("patch", "error"))
	}
	failed0 := failed()
	before := readOutcomes()

	for i := range 20 {
		p.listener.Errorf("plugin/errors: ", "upstream %d down", i)
	}
	stepUntilDone(t, clk, time.Second, func() bool { return p.backlog.pending() == 0 })

	if got := srv.requests(); got != 1 {
		t.Errorf("the API server saw %d requests within the hour it asked for without any, want 1", got)
	}
	if f := failed() - failed0; f != 1 {
		t.Errorf("api_writes_total: %v failed writes, want 1", f)
	}
	if got, want := readOutcomes().since(before), (outcomes{dropRetriesExhausted: 20}); got.String() != want.String() {
		t.Errorf("outcomes %s, want %s", got, want)
	}
}

// Once the API server asked for quiet, a line is not sent before the quiet ends: one
// whose time runs out first is dropped unsent, one with time left after it waits for it.
// The quiet asked for, 10 minutes, is shorter than the lines behind can use (15 minutes
// from being logged): it is kept whole.
func TestQuietPeriodHonouredByEveryLine(t *testing.T) {
	p, clk, _ := newTestPipeline(t, "k8s_event")
	start := clk.Now()
	var sentAt []time.Time
	call := func(answer error) eventCall { return answering(answer, clk, &sentAt) }

	if res := p.retrier.write("create", loggedAt(start.Add(-10*time.Minute)), call(apierrors.NewTooManyRequests("slow down", 600))); res.drop != dropRetriesExhausted {
		t.Fatalf("a line with 5 minutes left, asked to wait 10: dropped for %q, want %q", res.drop, dropRetriesExhausted)
	}
	if res := p.retrier.write("create", loggedAt(start.Add(-6*time.Minute)), call(nil)); res.drop != dropRetriesExhausted {
		t.Errorf("a line whose time ends within the 10 quiet minutes: dropped for %q, want %q", res.drop, dropRetriesExhausted)
	}
	if len(sentAt) != 1 {
		t.Errorf("%d requests, want 1: the second line's time ends before the quiet does", len(sentAt))
	}

	written := make(chan string, 1)
	go func() {
		written <- p.retrier.write("create", loggedAt(start.Add(-time.Minute)), call(nil)).drop
	}()
	var reason string
	for deadline, done := time.Now().Add(10*time.Second), false; !done; {
		select {
		case reason = <-written:
			done = true
		default:
			if time.Now().After(deadline) {
				t.Fatal("the line waiting for the quiet to end was not written")
			}
			if clk.HasWaiters() {
				clk.Step(time.Minute)
			}
			time.Sleep(time.Millisecond)
		}
	}
	if reason != "" {
		t.Errorf("a line with time left after the 10 quiet minutes dropped for %q, want it written", reason)
	}
	if len(sentAt) != 2 || sentAt[1].Before(start.Add(10*time.Minute)) {
		t.Errorf("requests at %v, want the second one 10 minutes or more after %v", sentAt, start)
	}
}

// The quiet a Retry-After asks for lasts no longer than the lines behind it can use: one
// 429 asking for 2147483647 seconds drops the line it answered, and a line logged 20
// minutes later, when every line logged before the answer has run out of time, goes out
// at once.
func TestRetryAfterBoundedByWhatTheLinesBehindCanUse(t *testing.T) {
	p, clk, _ := newTestPipeline(t, "k8s_event")
	var sentAt []time.Time
	call := func(answer error) eventCall { return answering(answer, clk, &sentAt) }

	if res := p.retrier.write("create", loggedAt(clk.Now()), call(apierrors.NewTooManyRequests("slow down", math.MaxInt32))); res.drop != dropRetriesExhausted {
		t.Fatalf("the line answered 429 with Retry-After %d: dropped for %q, want %q", math.MaxInt32, res.drop, dropRetriesExhausted)
	}
	clk.Step(20 * time.Minute)
	if res := p.retrier.write("create", loggedAt(clk.Now()), call(nil)); res.drop != "" {
		t.Errorf("a line logged 20 minutes after a 429 with Retry-After %d: dropped for %q (%v), want it written", math.MaxInt32, res.drop, res.err)
	}
	if len(sentAt) != 2 || !sentAt[1].Equal(clk.Now()) {
		t.Errorf("requests at %v, want the second one at once, at %v", sentAt, clk.Now())
	}
}

// Writes at once share the API server's quiet: of 8 writes tried together, the first
// answered gets 429 with Retry-After 10 s, the others 503; none tries again before the
// 10 s are over, though the backoff alone would retry a 503 after 1 to 1.5 s. The
// writes read and extend the quiet from their own goroutines: go test -race (make test
// runs it) fails if that is not safe.
func TestQuietPeriodSharedByWritesAtOnce(t *testing.T) {
	const writers, asked = 8, 10 * time.Second
	var waits *waitCountingClock
	p, clk, _ := newTestPipeline(t, "k8s_event", func(o *options) {
		waits = countWaits(o.clock.(*clocktesting.FakeClock))
		o.clock = waits
	})
	start := clk.Now()
	var mu sync.Mutex
	tries := 0
	var retries []time.Time
	call := func(context.Context, eventWriter, *corev1.Event) (*corev1.Event, error) {
		mu.Lock()
		defer mu.Unlock()
		tries++
		switch {
		case tries == 1:
			return nil, apierrors.NewTooManyRequests("slow down", int(asked/time.Second))
		case tries <= writers:
			return nil, statusError(http.StatusServiceUnavailable)
		}
		retries = append(retries, clk.Now())
		return &corev1.Event{}, nil
	}
	reasons := make(chan string, writers)
	for range writers {
		go func() {
			reason := p.retrier.write("create", &corev1.Event{LastTimestamp: metav1.NewTime(start)}, call).drop
			reasons <- reason
		}()
	}
	// Every write answered once and waiting on the clock before it moves.
	deadline := time.Now().Add(10 * time.Second)
	for waits.begun() < writers {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes waiting on the clock, want %d", waits.begun(), writers)
		}
		time.Sleep(time.Millisecond)
	}
	stepUntilDone(t, clk, time.Second, func() bool { return len(reasons) == writers })

	for range writers {
		if reason := <-reasons; reason != "" {
			t.Errorf("a write dropped for %q, want every one written after the quiet", reason)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, at := range retries {
		if at.Before(start.Add(asked)) {
			t.Errorf("a write tried again %s after the 429, within the %s the API server asked for: retries at %v",
				at.Sub(start), asked, retries)
			break
		}
	}
}

// Writes extend the quiet from their own goroutines while others read it: it ends at the
// latest end any of them asked for, whatever their order, and a write never sees it end
// before its own. Unlike TestQuietPeriodSharedByWritesAtOnce, nothing else orders these
// calls, so go test -race (make test runs it) fails every run if the quiet is not safe
// to share.
func TestQuietPeriodEndsAtTheLatestOfConcurrentExtends(t *testing.T) {
	const writers = 8
	var q quietPeriod
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for i := range writers {
		spawn(&wg, func() {
			until := start.Add(time.Duration(writers-i) * time.Second) // the first asks for the longest
			q.extend(until)
			if end := q.end(); end.Before(until) {
				t.Errorf("a write that extended the quiet to %v read its end as %v, earlier", until, end)
			}
		})
	}
	wg.Wait()
	if got, want := q.end(), start.Add(writers*time.Second); !got.Equal(want) {
		t.Errorf("the quiet ends at %v, want %v, the latest end asked for", got, want)
	}
}

// answering is an API call that notes when it was made in sentAt and answers answer.
func answering(answer error, clk clock.PassiveClock, sentAt *[]time.Time) eventCall {
	return func(context.Context, eventWriter, *corev1.Event) (*corev1.Event, error) {
		*sentAt = append(*sentAt, clk.Now())
		return &corev1.Event{}, answer
	}
}

// loggedAt is an event whose line was logged at logged.
func loggedAt(logged time.Time) *corev1.Event {
	return &corev1.Event{LastTimestamp: metav1.NewTime(logged)}
}
