package k8s_event

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

// outage makes the fake's event writes fail as an unreachable API server's do, until
// down is cleared, and keeps the events created after that, in order.
type outage struct {
	down    atomic.Bool
	mu      sync.Mutex
	created []corev1.Event
}

func apiOutage(client *fake.Clientset) *outage {
	o := &outage{}
	o.down.Store(true)
	client.PrependReactor("*", "events", func(a k8stesting.Action) (bool, k8sruntime.Object, error) {
		if o.down.Load() {
			return true, nil, errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
		}
		if c, ok := a.(k8stesting.CreateAction); ok {
			o.mu.Lock()
			o.created = append(o.created, *c.GetObject().(*corev1.Event))
			o.mu.Unlock()
		}
		return false, nil, nil
	})
	return o
}

// stepFor advances clk by step whenever the pipeline waits on it, for d of fake time.
func stepFor(t *testing.T, clk *clocktesting.FakeClock, step, d time.Duration) {
	t.Helper()
	end := clk.Now().Add(d)
	deadline := time.Now().Add(10 * time.Second)
	for clk.Now().Before(end) {
		if time.Now().After(deadline) {
			t.Fatal("the pipeline stopped waiting on its clock")
		}
		if clk.HasWaiters() {
			clk.Step(step)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func TestOutageOfTenMinutesLosesNothing(t *testing.T) {
	p, clk, client := newTestPipeline(t, "k8s_event {\n level info error\n rate 1 10\n}")
	api := apiOutage(client)
	before := readOutcomes()
	var logged []time.Time
	for i := range 5 {
		logged = append(logged, time.Now())
		p.listener.Errorf("plugin/errors: ", "line %d", i)
	}
	p.listener.Error("plugin/errors: ", "line 0") // a repeat, to be merged

	stepFor(t, clk, 5*time.Second, 10*time.Minute)
	time.Sleep(time.Second) // real time too, so that a stamp at writing would show
	recovered := time.Now()
	api.down.Store(false)
	stepUntilDone(t, clk, 5*time.Second, func() bool { return p.backlog.pending() == 0 })

	if got, want := readOutcomes().since(before), (outcomes{outcomeCreated: 5, outcomeMerged: 1}); got.String() != want.String() {
		t.Errorf("outcomes %s, want %s", got, want)
	}
	evs := events(t, client, testNS)
	written := api.created
	if len(evs) != 5 || len(written) != 5 {
		t.Fatalf("want 5 events created, got %s", describe(evs))
	}
	for i := range 5 {
		msg := fmt.Sprintf("plugin/errors: line %d", i)
		if written[i].Message != msg {
			t.Errorf("write %d is %q, want %q: lines go out in the order they were logged", i, written[i].Message, msg)
		}
		// The sender stamps a line as it takes it, a moment after the log call.
		if ts := written[i].FirstTimestamp.Time; ts.Before(logged[i]) || ts.After(recovered.Add(-500*time.Millisecond)) {
			t.Errorf("%q stamped %s, want when it was logged (%s), not when it was written", msg, ts, logged[i])
		}
	}
	if n, count := countMessage(evs, "plugin/errors: line 0"); n != 1 || count != 2 {
		t.Errorf("the repeated line: %d events with count %d, want one with count 2", n, count)
	}
}

func TestOutageOfTwentyMinutesDropsAndCounts(t *testing.T) {
	p, clk, client := newTestPipeline(t, "k8s_event {\n rate 1 10\n}")
	apiOutage(client)
	before := readOutcomes()
	for i := range 3 {
		p.listener.Errorf("plugin/errors: ", "line %d", i)
	}
	stepUntilDone(t, clk, 30*time.Second, func() bool { return p.backlog.pending() == 0 })
	if got, want := readOutcomes().since(before), (outcomes{dropRetriesExhausted: 3}); got.String() != want.String() {
		t.Errorf("outcomes %s, want %s", got, want)
	}
	if age := clk.Since(time.Now()); age < 14*time.Minute {
		t.Errorf("gave up after %s of fake time, want about 15 minutes", age)
	}
}

func TestBacklogBoundHoldsUnderAFlood(t *testing.T) {
	// The outage outlasts the test: the final flush can only run out of time.
	p, clk, client := newTestPipeline(t, "k8s_event {\n rate 1 25\n}", func(o *options) { o.flushTimeout = 100 * time.Millisecond })
	apiOutage(client)
	before := readOutcomes()
	bound := int64(queueSize(25))
	rounds := int(bound)/25 + 2 // enough refills to go past the bound
	admitted := 0
	for round := range rounds {
		for i := range 1000 {
			p.listener.Errorf("plugin/errors: ", "round %d line %d", round, i)
			if n := p.backlog.pending(); n > bound {
				t.Fatalf("backlog %d, above its bound %d", n, bound)
			}
		}
		admitted += 25
		clk.Step(25 * time.Second) // refills the bucket
	}
	got := readOutcomes().since(before)
	if got[dropQueueFull] != float64(admitted)-float64(bound) {
		t.Errorf("queue_full %v, want the %d admitted lines beyond the bound of %d: %s", got[dropQueueFull], admitted, bound, got)
	}
	if got[dropRateLimited] != float64(1000*rounds-admitted) {
		t.Errorf("rate_limited %v, want %d: %s", got[dropRateLimited], 1000*rounds-admitted, got)
	}
}

// client-go's broadcaster drops what does not fit in its queue of 1000 events without a
// word: the backlog, which bounds the lines handed to it, must stay below that at any
// BURST, and hold the bursts of several plugins at once.
func TestBacklogBelowBroadcasterQueue(t *testing.T) {
	for _, burst := range []int{minBurst, defaultBurst, 100, maxBurst} {
		if n := queueSize(burst); n >= 1000 || n > maxBacklog || n < min(4*burst, maxBacklog) {
			t.Errorf("BURST %d: backlog %d, want room for 4 bursts, at most %d and below 1000", burst, n, maxBacklog)
		}
	}
	if maxBacklog >= 1000 {
		t.Errorf("maxBacklog %d, want it below client-go's broadcaster queue of 1000", maxBacklog)
	}
}

// A line is tried until its last chance within maxAge of being logged, and never after:
// the sink gives up when the next wait would end past it, not once it has passed.
func TestNoTryAfterALinesMaxAge(t *testing.T) {
	p, clk, client := newTestPipeline(t, "k8s_event")
	var mu sync.Mutex
	var tries []time.Time
	var deadline time.Time
	client.PrependReactor("create", "events", func(a k8stesting.Action) (bool, k8sruntime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		tries = append(tries, clk.Now())
		deadline = a.(k8stesting.CreateAction).GetObject().(*corev1.Event).LastTimestamp.Add(p.opts.maxAge)
		return true, nil, statusError(http.StatusServiceUnavailable)
	})
	before := readOutcomes()
	p.listener.Error("plugin/errors: ", "upstream down")
	// Steps of 1 s: every wait (whole seconds) ends exactly when it was meant to.
	stepUntilDone(t, clk, time.Second, func() bool { return p.backlog.pending() == 0 })
	if got, want := readOutcomes().since(before), (outcomes{dropRetriesExhausted: 1}); got.String() != want.String() {
		t.Errorf("outcomes %s, want %s", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	last := tries[len(tries)-1]
	if last.After(deadline) {
		t.Errorf("last try %s after the line's deadline (%s after it was logged)", last.Sub(deadline), p.opts.maxAge)
	}
	// The longest wait is the cap lengthened by the most jitter.
	longest := p.opts.retry.max + time.Duration(p.opts.retry.jitter*float64(p.opts.retry.max))
	if last.Before(deadline.Add(-longest)) {
		t.Errorf("last try %s before the line's deadline, want the line tried until its last chance", deadline.Sub(last))
	}
}

// During an outage the backlog holds what docs/operations.md promises, 4·BURST + 16
// lines: the full bursts of four plugins and a margin. Eight plugins each log a full
// burst of 5: 36 lines wait for the API, and the 4 after them are dropped as queue_full.
func TestBacklogHoldsFourBurstsAndAMargin(t *testing.T) {
	const burst, plugins = 5, 8
	p, _, client := newTestPipeline(t, fmt.Sprintf("k8s_event {\n rate 1 %d\n}", burst), func(o *options) { o.flushTimeout = 100 * time.Millisecond })
	apiOutage(client)
	before := readOutcomes()
	for i, name := range []string{"errors", "forward", "kubernetes", "reload", "cache", "health", "loop", "hosts"}[:plugins] {
		for j := range burst {
			p.listener.Errorf("plugin/"+name+": ", "line %d of plugin %d", j, i)
		}
	}
	got := readOutcomes().since(before)
	want := 4*burst + 16
	if held := plugins*burst - int(got[dropQueueFull]); held != want || got[dropRateLimited] != 0 {
		t.Errorf("BURST %d, %d lines admitted: the backlog held %d, want 4·BURST+16 = %d (outcomes %s)",
			burst, plugins*burst, held, want, got)
	}
}
