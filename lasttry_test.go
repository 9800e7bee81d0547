package k8s_event

import (
	"context"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	clocktesting "k8s.io/utils/clock/testing"
)

// writeUntilItsDeadline runs p's write of e through call, moving clk to e's deadline
// whenever the write waits on it: a wait that ends by the deadline ends then, and the try
// after it is made at the deadline, the last moment a try may start.
func writeUntilItsDeadline(t *testing.T, p *pipeline, clk *clocktesting.FakeClock, e *corev1.Event, call eventCall) writeResult {
	t.Helper()
	deadline := e.LastTimestamp.Add(p.opts.maxAge)
	done := make(chan writeResult, 1)
	go func() { done <- p.retrier.write("create", e, call) }()
	for limit := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		select {
		case res := <-done:
			return res
		default:
		}
		if time.Now().After(limit) {
			t.Fatal("the write did not end")
		}
		if clk.HasWaiters() && clk.Now().Before(deadline) {
			clk.SetTime(deadline)
		}
	}
}

// A line with 90.001 s left, answered 429 with Retry-After 90, has time for the try the
// API server allows: it is tried again at its deadline at the latest, whatever the
// jitter (up to half of the 90 s) would add.
func TestRetryAfterThatFitsGetsItsTryWhateverTheJitter(t *testing.T) {
	p, clk, _ := newTestPipeline(t, "k8s_event")
	start := clk.Now()
	left := 90*time.Second + time.Millisecond
	var sentAt []time.Time
	answers := []error{apierrors.NewTooManyRequests("slow down", 90), nil}
	call := answering(nil, clk, &sentAt)
	calls := func(ctx context.Context, api eventWriter, e *corev1.Event) (*corev1.Event, error) {
		out, _ := call(ctx, api, e)
		return out, answers[len(sentAt)-1]
	}
	res := writeUntilItsDeadline(t, p, clk, loggedAt(start.Add(left-p.opts.maxAge)), calls)
	if res.drop != "" {
		t.Fatalf("dropped for %q (%v), want written: the 90 s the API server asked for end before the line's deadline", res.drop, res.err)
	}
	if len(sentAt) != 2 || sentAt[1].Before(start.Add(90*time.Second)) || sentAt[1].After(start.Add(left)) {
		t.Errorf("tries at %v after the first, want the second 90 s to %s after it", offsets(start, sentAt), left)
	}
}

// A 503 answered with 1.2 s left: the backoff's first wait, 1 s, fits, and the line is
// tried again before its deadline, every time, though the jitter lengthens that wait to
// up to 1.5 s.
func TestBackoffThatFitsGetsItsTryWhateverTheJitter(t *testing.T) {
	p, clk, _ := newTestPipeline(t, "k8s_event")
	const lines = 20
	left := 1200 * time.Millisecond
	written := 0
	for range lines {
		start := clk.Now()
		var sentAt []time.Time
		answers := []error{statusError(http.StatusServiceUnavailable), nil}
		call := answering(nil, clk, &sentAt)
		calls := func(ctx context.Context, api eventWriter, e *corev1.Event) (*corev1.Event, error) {
			out, _ := call(ctx, api, e)
			return out, answers[len(sentAt)-1]
		}
		res := writeUntilItsDeadline(t, p, clk, loggedAt(start.Add(left-p.opts.maxAge)), calls)
		if res.drop == "" {
			written++
		}
		if len(sentAt) == 2 && (sentAt[1].Before(start.Add(p.opts.retry.initial)) || sentAt[1].After(start.Add(left))) {
			t.Errorf("second try %s after the first, want %s to %s", sentAt[1].Sub(start), p.opts.retry.initial, left)
		}
	}
	if written != lines {
		t.Errorf("%d of %d lines written, want all: each had time for the backoff's %s wait", written, lines, p.opts.retry.initial)
	}
}

// offsets returns the times ts as durations since start.
func offsets(start time.Time, ts []time.Time) []time.Duration {
	var d []time.Duration
	for _, t := range ts {
		d = append(d, t.Sub(start))
	}
	return d
}
