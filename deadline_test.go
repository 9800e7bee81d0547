package k8s_event

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

// apiTry is one event write the fake API received: when, on the pipeline's clock, and
// the timestamps and message it carried.
type apiTry struct {
	at, first, last time.Time
	message         string
}

// recordTries makes every event write of client fail with answer, and records each.
func recordTries(client interface {
	PrependReactor(verb, resource string, r k8stesting.ReactionFunc)
}, clk *clocktesting.FakeClock, answer error) func() []apiTry {
	var mu sync.Mutex
	var tries []apiTry
	client.PrependReactor("*", "events", func(a k8stesting.Action) (bool, k8sruntime.Object, error) {
		try := apiTry{at: clk.Now()}
		switch a := a.(type) {
		case k8stesting.CreateAction:
			e := a.GetObject().(*corev1.Event)
			try.first, try.last, try.message = e.FirstTimestamp.Time, e.LastTimestamp.Time, e.Message
		case k8stesting.PatchAction:
			var e corev1.Event
			if err := json.Unmarshal(a.GetPatch(), &e); err != nil {
				panic(err)
			}
			try.last, try.message = e.LastTimestamp.Time, e.Message
		default:
			return false, nil, nil
		}
		mu.Lock()
		tries = append(tries, try)
		mu.Unlock()
		return true, nil, answer
	})
	return func() []apiTry {
		mu.Lock()
		defer mu.Unlock()
		return append([]apiTry(nil), tries...)
	}
}

// stepUntil advances clk by step whenever the pipeline waits on it, until done, for at
// most limit of fake time.
func stepUntil(t *testing.T, clk *clocktesting.FakeClock, step, limit time.Duration, done func() bool) {
	t.Helper()
	end := clk.Now().Add(limit)
	deadline := time.Now().Add(time.Minute)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("the pipeline did not finish within %s of fake time", limit)
		}
		if clk.HasWaiters() && clk.Now().Before(end) {
			clk.Step(step)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// Twelve distinct lines of the errors plugin, the API server answering 503 to every
// write: the sink spends the first lines' 15 minutes on their retries, and client-go's
// correlator combines the lines past the 10th into an event of its own, stamped with
// its clock when it combines them, 15 minutes after they were logged. Every try must
// still come within 15 minutes of its line being logged, and carry the line's time.
func TestEveryTryWithinItsLinesMaxAge(t *testing.T) {
	p, clk, client := newTestPipeline(t, "k8s_event {\n rate 1 25\n}")
	tries := recordTries(client, clk, statusError(http.StatusServiceUnavailable))
	before := readOutcomes()
	loggedFrom := time.Now().Truncate(time.Second) // patches carry whole seconds
	for i := range 12 {
		p.listener.Errorf("plugin/errors: ", "upstream %d unreachable", i)
	}
	stepUntil(t, clk, time.Second, time.Hour, func() bool { return p.backlog.pending() == 0 })
	loggedBy := time.Now() // the recorder stamped every line with the real time before this

	if got, want := readOutcomes().since(before), (outcomes{dropRetriesExhausted: 12}); got.String() != want.String() {
		t.Errorf("outcomes %s, want %s", got, want)
	}
	all := tries()
	if len(all) == 0 {
		t.Fatal("no try reached the API")
	}
	for _, try := range all {
		if try.last.Before(loggedFrom) || try.last.After(loggedBy) {
			t.Errorf("%q sent stamped %s after the lines were logged, want the time its line was logged",
				try.message, try.last.Sub(loggedFrom).Round(time.Second))
		}
		if !try.first.IsZero() && !try.first.Equal(try.last) {
			t.Errorf("%q created with first timestamp %s, last %s: want both its line's", try.message, try.first, try.last)
		}
		if age := try.at.Sub(loggedBy); age > p.opts.maxAge {
			t.Errorf("%q tried %s after its line was logged, want at most %s", try.message, age.Round(time.Second), p.opts.maxAge)
		}
	}
}

// A line whose turn comes after its deadline is dropped unsent: here the try of the
// line before it is answered only once the deadline of both has passed.
func TestNoFirstTryAfterALinesMaxAge(t *testing.T) {
	p, clk, client := newTestPipeline(t, "k8s_event {\n rate 1 25\n}")
	answered := make(chan struct{})
	var mu sync.Mutex
	var sent []string
	client.PrependReactor("create", "events", func(a k8stesting.Action) (bool, k8sruntime.Object, error) {
		mu.Lock()
		sent = append(sent, a.(k8stesting.CreateAction).GetObject().(*corev1.Event).Message)
		first := len(sent) == 1
		mu.Unlock()
		if first {
			<-answered
		}
		return true, nil, statusError(http.StatusServiceUnavailable)
	})
	before := readOutcomes()
	p.listener.Error("plugin/errors: ", "slow to answer")
	p.listener.Error("plugin/errors: ", "behind it")
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		mu.Lock()
		n := len(sent)
		mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first line's try did not reach the API")
		}
	}
	clk.Step(p.opts.maxAge + time.Second)
	close(answered)
	stepUntil(t, clk, time.Second, time.Hour, func() bool { return p.backlog.pending() == 0 })

	if got, want := readOutcomes().since(before), (outcomes{dropRetriesExhausted: 2}); got.String() != want.String() {
		t.Errorf("outcomes %s, want %s", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sent) != 1 {
		t.Errorf("the API received %q, want only the first line: the second one's turn came after its deadline", sent)
	}
}
