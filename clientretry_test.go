package k8s_event

import (
	"cmp"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
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
	p, clk := startAPFPipeline(t, srv, "k8s_event")
	failed, succeeded := writesCount.WithLabelValues("create", "error"), writesCount.WithLabelValues("create", "success")
	failed0, succeeded0 := testutil.ToFloat64(failed), testutil.ToFloat64(succeeded)
	before := readOutcomes()

	start := clk.Now()
	p.listener.Errorf("plugin/errors: ", "upstream down")
	stepUntilDone(t, clk, 500*time.Millisecond, func() bool { return p.backlog.pending() == 0 })

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

// startAPFPipeline starts a pipeline with stanza's settings, on a fake clock, whose client
// talks to srv over HTTP, as kubeapi's would to an API server.
func startAPFPipeline(t *testing.T, srv *apfServer, stanza string) (*pipeline, *clocktesting.FakeClock) {
	t.Helper()
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	client, err := kubernetes.NewForConfig(&rest.Config{Host: hs.URL})
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktesting.NewFakeClock(time.Now())
	opts := testOptions(client, true)
	opts.clock = clk
	return startPipeline(t, opts, client, stanza), clk
}
