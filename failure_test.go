package k8s_event

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus/testutil"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

// outcomes is a reading of every counter an admitted line can end in.
type outcomes map[string]float64

func readOutcomes() outcomes {
	o := outcomes{}
	for _, r := range []string{dropRateLimited, dropQueueFull, dropRejected, dropRetriesExhausted, dropShutdown} {
		o[r] = testutil.ToFloat64(droppedCount.WithLabelValues(r))
	}
	for _, r := range []string{outcomeCreated, outcomeMerged} {
		o[r] = testutil.ToFloat64(reportedCount.WithLabelValues(r))
	}
	return o
}

// since returns what grew since before, without the counters that did not.
func (o outcomes) since(before outcomes) outcomes {
	d := outcomes{}
	for k, v := range o {
		if v != before[k] {
			d[k] = v - before[k]
		}
	}
	return d
}

func (o outcomes) String() string { return fmt.Sprint(map[string]float64(o)) }

func statusError(code int) error {
	gr := schema.GroupResource{Resource: "events"}
	switch code {
	case http.StatusBadRequest:
		return apierrors.NewBadRequest("bad event")
	case http.StatusForbidden:
		return apierrors.NewForbidden(gr, "", errors.New("no rule"))
	case http.StatusNotFound:
		return apierrors.NewNotFound(gr, "coredns.1")
	case http.StatusConflict:
		return apierrors.NewConflict(gr, "coredns.1", errors.New("conflict"))
	case http.StatusUnprocessableEntity:
		return apierrors.NewInvalid(schema.GroupKind{Kind: "Event"}, "coredns.1", nil)
	case http.StatusTooManyRequests:
		return apierrors.NewTooManyRequests("slow down", 1)
	case http.StatusInternalServerError:
		return apierrors.NewInternalError(errors.New("etcdserver: leader changed"))
	case http.StatusServiceUnavailable:
		return apierrors.NewServiceUnavailable("restarting")
	case http.StatusGatewayTimeout:
		return apierrors.NewTimeoutError("etcd timed out", 1)
	}
	panic(code)
}

// failFirst makes the fake's event creates fail with err n times, then succeed.
func failFirst(p *fake.Clientset, n int, err error) *atomic.Int32 {
	var calls atomic.Int32
	p.PrependReactor("create", "events", func(k8stesting.Action) (bool, k8sruntime.Object, error) {
		if int(calls.Add(1)) <= n {
			return true, nil, err
		}
		return false, nil, nil
	})
	return &calls
}

// answerCreates makes the fake answer its event creates with answers, in order: an error
// fails the call, nil lets it through; the calls after the last answer go through too,
// unless it is an error, which answers every call after it.
func answerCreates(client *fake.Clientset, answers ...error) *atomic.Int32 {
	var calls atomic.Int32
	client.PrependReactor("create", "events", func(k8stesting.Action) (bool, k8sruntime.Object, error) {
		if err := answers[min(int(calls.Add(1)), len(answers))-1]; err != nil {
			return true, nil, err
		}
		return false, nil, nil
	})
	return &calls
}

// stepUntilDone advances clk whenever the pipeline waits on it, until done or 20 fake
// minutes have gone by.
func stepUntilDone(t *testing.T, clk *clocktesting.FakeClock, step time.Duration, done func() bool) {
	t.Helper()
	limit := clk.Now().Add(20 * time.Minute)
	deadline := time.Now().Add(10 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the pipeline")
		}
		if clk.HasWaiters() && clk.Now().Before(limit) {
			clk.Step(step)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFailureStatusesEndInOneCountedOutcome(t *testing.T) {
	refused := errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
	tests := []struct {
		name     string
		err      error
		failures int   // calls answered err before a success
		tries    int32 // create calls for the line
		want     string
	}{
		{"400", statusError(http.StatusBadRequest), 2, 1, dropRejected},
		{"403", statusError(http.StatusForbidden), 2, 1, dropRejected},
		{"404", statusError(http.StatusNotFound), 2, 1, dropRejected},
		{"409", statusError(http.StatusConflict), 2, 1, dropRejected},
		{"422", statusError(http.StatusUnprocessableEntity), 2, 1, dropRejected},
		{"429", statusError(http.StatusTooManyRequests), 2, 3, outcomeCreated},
		{"500", statusError(http.StatusInternalServerError), 2, 3, outcomeCreated},
		{"503", statusError(http.StatusServiceUnavailable), 2, 3, outcomeCreated},
		{"504", statusError(http.StatusGatewayTimeout), 2, 3, outcomeCreated},
		{"connection refused", refused, 4, 5, outcomeCreated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, clk, client := newTestPipeline(t, "k8s_event")
			calls := failFirst(client, tc.failures, tc.err)
			before := readOutcomes()

			p.listener.Errorf("plugin/errors: ", "upstream: %s", tc.name)
			stepUntilDone(t, clk, 30*time.Second, func() bool { return p.backlog.pending() == 0 })

			want := outcomes{tc.want: 1}
			if got := readOutcomes().since(before); got.String() != want.String() {
				t.Errorf("outcomes %s, want %s", got, want)
			}
			if got := calls.Load(); got != tc.tries {
				t.Errorf("%d create calls, want %d", got, tc.tries)
			}
		})
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	p, clk, client := newTestPipeline(t, "k8s_event")
	failFirst(client, 1, apierrors.NewTooManyRequests("slow down", 20))
	start := clk.Now()
	p.listener.Error("plugin/errors: ", "upstream down")
	stepUntilDone(t, clk, time.Second, func() bool { return p.backlog.pending() == 0 })
	if waited := clk.Since(start); waited < 20*time.Second {
		t.Errorf("retried after %s, want the 20 s the server asked for", waited)
	}
}

func TestRepeatedLineMergedAndCounted(t *testing.T) {
	p, _, client := newTestPipeline(t, "k8s_event {\n rate 1 10\n}")
	before := readOutcomes()
	for range 3 {
		p.listener.Error("plugin/errors: ", "same line")
	}
	p.stop()
	if got, want := readOutcomes().since(before), (outcomes{outcomeCreated: 1, outcomeMerged: 2}); got.String() != want.String() {
		t.Errorf("outcomes %s, want %s", got, want)
	}
	if n, count := countMessage(events(t, client, testNS), "plugin/errors: same line"); n != 1 || count != 3 {
		t.Errorf("want one event with Count 3, got %d with %d", n, count)
	}
}

func TestPatchOfDeletedEventCreatesItAgain(t *testing.T) {
	p, clk, client := newTestPipeline(t, "k8s_event {\n rate 1 10\n}")
	p.listener.Error("plugin/errors: ", "same line")
	// The first line is counted once its Create returns, a moment after the event exists.
	stepUntilDone(t, clk, time.Second, func() bool { return p.backlog.pending() == 0 })
	evs := events(t, client, testNS)
	if len(evs) != 1 {
		t.Fatalf("want the first event, got %s", describe(evs))
	}
	if err := client.CoreV1().Events(testNS).Delete(context.Background(), evs[0].Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	before := readOutcomes()
	p.listener.Error("plugin/errors: ", "same line")
	p.stop()
	if got, want := readOutcomes().since(before), (outcomes{outcomeCreated: 1}); got.String() != want.String() {
		t.Errorf("outcomes %s, want %s: client-go's Create after a 404 on Patch is the same line", got, want)
	}
	if evs := events(t, client, testNS); len(evs) != 1 {
		t.Errorf("want the event created again, got %s", describe(evs))
	}
}

func TestStillFailingAtShutdownCountedAsShutdown(t *testing.T) {
	p, _, client := newTestPipeline(t, "k8s_event {\n rate 1 10\n}", func(o *options) { o.flushTimeout = 100 * time.Millisecond })
	failFirst(client, 1000, apierrors.NewServiceUnavailable("restarting"))
	before := readOutcomes()
	for i := range 4 {
		p.listener.Errorf("plugin/errors: ", "line %d", i)
	}
	start := time.Now()
	p.stop()
	if d := time.Since(start); d > time.Second {
		t.Errorf("stop took %s, want it bounded by the 100 ms flush", d)
	}
	if got, want := readOutcomes().since(before), (outcomes{dropShutdown: 4}); got.String() != want.String() {
		t.Errorf("outcomes %s, want %s", got, want)
	}
}

func TestUIDLookupRetriedUntilFound(t *testing.T) {
	// The API is unreachable at start-up, then comes back: the lookup is retried until it
	// succeeds, and a line logged before then, written after, carries the UID.
	client := newFake()
	var podsDown, eventsDown atomic.Bool
	podsDown.Store(true)
	eventsDown.Store(true)
	var lists atomic.Int32
	unreachable := func(down *atomic.Bool) k8stesting.ReactionFunc {
		return func(k8stesting.Action) (bool, k8sruntime.Object, error) {
			if down.Load() {
				return true, nil, errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
			}
			return false, nil, nil
		}
	}
	client.PrependReactor("list", "pods", func(a k8stesting.Action) (bool, k8sruntime.Object, error) {
		lists.Add(1)
		return unreachable(&podsDown)(a)
	})
	client.PrependReactor("create", "events", unreachable(&eventsDown))
	clk := clocktesting.NewFakeClock(time.Now())
	opts := testOptions(client, false)
	opts.clock = clk
	p := startPipeline(t, opts, client, "k8s_event")

	p.listener.Error("plugin/kubernetes: ", "starting server with unsynced Kubernetes API")
	stepUntilDone(t, clk, 50*time.Millisecond, func() bool { return lists.Load() >= 3 })
	podsDown.Store(false)
	stepUntilDone(t, clk, 50*time.Millisecond, func() bool {
		select {
		case <-p.ref.done:
			return true
		default:
			return false
		}
	})
	eventsDown.Store(false)
	stepUntilDone(t, clk, 50*time.Millisecond, func() bool { return p.backlog.pending() == 0 })
	p.listener.Error("plugin/errors: ", "after")
	p.stop()

	evs := events(t, client, testNS)
	if len(evs) != 2 {
		t.Fatalf("want both lines, got %s", describe(evs))
	}
	for _, e := range evs {
		if e.InvolvedObject.UID != testUID {
			t.Errorf("event %q has UID %q, want the Pod's", e.Message, e.InvolvedObject.UID)
		}
	}
}

// A message that is not UTF-8 is cut after its bytes are replaced by U+FFFD, before a
// replacement rather than through it: UTF-8 of nearly the limit.
func TestClipInvalidUTF8(t *testing.T) {
	msg := formatMessage("plugin/errors: ", "", []any{strings.Repeat("\x80", 2000)}, false)
	if !utf8.ValidString(msg) || len(msg) > maxMessageBytes || len(msg) <= maxMessageBytes-utf8.UTFMax {
		t.Errorf("clipped to %d bytes (UTF-8: %v), want UTF-8 of %d bytes at most, %d at least",
			len(msg), utf8.ValidString(msg), maxMessageBytes, maxMessageBytes-utf8.UTFMax+1)
	}
	if !strings.HasSuffix(msg, truncatedMarker) {
		t.Errorf("message %q does not end with the marker", msg[len(msg)-20:])
	}
}

func TestRefusalsOfAStartingAPIServerRetried(t *testing.T) {
	// Unreachable, then 401 and 403 while its authenticator and authorizer start, then up.
	p, clk, client := newTestPipeline(t, "k8s_event")
	answers := []error{errors.New("connect: connection refused"), statusError(http.StatusForbidden), apierrors.NewUnauthorized("token not yet valid"), nil}
	var calls atomic.Int32
	client.PrependReactor("create", "events", func(k8stesting.Action) (bool, k8sruntime.Object, error) {
		if err := answers[min(int(calls.Add(1))-1, len(answers)-1)]; err != nil {
			return true, nil, err
		}
		return false, nil, nil
	})
	before := readOutcomes()
	p.listener.Error("plugin/errors: ", "logged while the API server restarts")
	stepUntilDone(t, clk, 30*time.Second, func() bool { return p.backlog.pending() == 0 })
	if got, want := readOutcomes().since(before), (outcomes{outcomeCreated: 1}); got.String() != want.String() {
		t.Errorf("outcomes %s, want %s", got, want)
	}
	if got := calls.Load(); got != 4 {
		t.Errorf("%d create calls, want 4", got)
	}
}

// A starting API server's 401s and 403s are retried 5 times, not more: the 6th refusal
// drops the line.
func TestRefusalsOfAStartingAPIServerRetriedFiveTimes(t *testing.T) {
	p, clk, client := newTestPipeline(t, "k8s_event")
	calls := answerCreates(client, errors.New("connect: connection refused"), statusError(http.StatusForbidden))
	before := readOutcomes()
	p.listener.Error("plugin/errors: ", "logged while the API server restarts")
	stepUntilDone(t, clk, 30*time.Second, func() bool { return p.backlog.pending() == 0 })
	if got, want := readOutcomes().since(before), (outcomes{dropRejected: 1}); got.String() != want.String() {
		t.Errorf("outcomes %s, want %s", got, want)
	}
	if got, want := calls.Load(), int32(1+1+maxAuthRetries); got != want {
		t.Errorf("%d create calls, want %d: the unreachable one, a 403, and %d retries of it", got, want, maxAuthRetries)
	}
}
