package k8s_event

import (
	"cmp"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
)

// apfServer answers the first refusals Event writes as API Priority and Fairness does
// when a priority level is full: 429, a Retry-After (retryAfter seconds, 3 if 0), a
// plain-text body; then 201.
type apfServer struct {
	refusals   int
	retryAfter int
	mu         sync.Mutex
	n          int // requests so far
}

func (s *apfServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.n++
	n := s.n
	s.mu.Unlock()
	if n <= s.refusals {
		w.Header().Set("Retry-After", strconv.Itoa(cmp.Or(s.retryAfter, 3)))
		http.Error(w, "Too many requests, please try again later.", http.StatusTooManyRequests)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	w.Write([]byte(`{"kind":"Event","apiVersion":"v1","metadata":{"name":"e","namespace":"kube-system"}}`))
}

func (s *apfServer) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// A 429 with Retry-After is retried by the plugin, on its schedule and counted, not by
// client-go inside one call: client-go's REST client would otherwise send the request up
// to 10 times more, Retry-After apart, each unseen by api_writes_total.
func TestRetryAfterRetriedByThePluginOnly(t *testing.T) {
	srv := &apfServer{refusals: 3}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	client, err := kubernetes.NewForConfig(&rest.Config{Host: hs.URL})
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktesting.NewFakeClock(time.Now())
	opts := testOptions(client, true)
	opts.clock = clk
	p := startPipeline(t, opts, client, "k8s_event")
	failed, succeeded := writesCount.WithLabelValues("create", "error"), writesCount.WithLabelValues("create", "success")
	failed0, succeeded0 := testutil.ToFloat64(failed), testutil.ToFloat64(succeeded)
	before := readOutcomes()

	start := clk.Now()
	p.listener.Errorf("plugin/errors: ", "upstream down")
	stepUntilDone(t, clk, 500*time.Millisecond, func() bool { return p.inflight.Load() == 0 })

	if got := srv.requests(); got != 4 {
		t.Errorf("the API server saw %d requests, want 4 (3 refused, then the write)", got)
	}
	if f, s := testutil.ToFloat64(failed)-failed0, testutil.ToFloat64(succeeded)-succeeded0; f != 3 || s != 1 {
		t.Errorf("api_writes_total: %v failed, %v succeeded; want 3 and 1: every request counted", f, s)
	}
	if got, want := readOutcomes().since(before), (outcomes{outcomeCreated: 1}); got.String() != want.String() {
		t.Errorf("outcomes %s, want %s", got, want)
	}
	// The plugin's schedule, each wait at least the Retry-After: 3 s, 3 s, 4 s.
	if waited := clk.Since(start); waited < 10*time.Second {
		t.Errorf("written %v after the line on the plugin's clock, want the 10 s of its backoff", waited)
	}
}

// A Retry-After longer than the time a line has left drops that line, and quiets the
// lines behind it too: the API server asked for an hour without requests, and 20 lines
// logged together, each with 15 minutes to go, are dropped without being sent.
func TestRetryAfterBeyondALinesTimeQuietsTheLinesBehind(t *testing.T) {
	srv := &apfServer{refusals: 1000, retryAfter: 3600}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	client, err := kubernetes.NewForConfig(&rest.Config{Host: hs.URL})
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktesting.NewFakeClock(time.Now())
	opts := testOptions(client, true)
	opts.clock = clk
	p := startPipeline(t, opts, client, "k8s_event {\n rate 1 25\n}")
	// Similar lines aggregate from the 10th on: those are patches.
	failed := func() float64 {
		return testutil.ToFloat64(writesCount.WithLabelValues("create", "error")) + testutil.ToFloat64(writesCount.WithLabelValues("patch", "error"))
	}
	failed0 := failed()
	before := readOutcomes()

	for i := range 20 {
		p.listener.Errorf("plugin/errors: ", "upstream %d down", i)
	}
	stepUntilDone(t, clk, time.Second, func() bool { return p.inflight.Load() == 0 })

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
func TestQuietPeriodHonouredByEveryLine(t *testing.T) {
	p, clk, _ := newTestPipeline(t, "k8s_event")
	start := clk.Now()
	var sentAt []time.Time
	call := func(answer error) eventCall {
		return func(context.Context, eventWriter, *corev1.Event) (*corev1.Event, error) {
			sentAt = append(sentAt, clk.Now())
			return &corev1.Event{}, answer
		}
	}
	event := func(logged time.Time) *corev1.Event {
		return &corev1.Event{LastTimestamp: metav1.NewTime(logged)}
	}

	if _, reason, _ := p.write("create", event(start), call(apierrors.NewTooManyRequests("slow down", 3600))); reason != dropRetriesExhausted {
		t.Fatalf("a line with 15 minutes left, asked to wait an hour: dropped for %q, want %q", reason, dropRetriesExhausted)
	}
	if _, reason, _ := p.write("create", event(start.Add(time.Minute)), call(nil)); reason != dropRetriesExhausted {
		t.Errorf("a line whose time ends within the quiet hour: dropped for %q, want %q", reason, dropRetriesExhausted)
	}
	if len(sentAt) != 1 {
		t.Errorf("%d requests, want 1: the second line's time ends before the quiet does", len(sentAt))
	}

	written := make(chan string, 1)
	go func() {
		_, reason, _ := p.write("create", event(start.Add(50*time.Minute)), call(nil))
		written <- reason
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
		t.Errorf("a line with time left after the quiet hour dropped for %q, want it written", reason)
	}
	if len(sentAt) != 2 || sentAt[1].Before(start.Add(time.Hour)) {
		t.Errorf("requests at %v, want the second one an hour or more after %v", sentAt, start)
	}
}
