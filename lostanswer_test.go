package k8s_event

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

// eventStore is an Events API that stores events by name, as kube-apiserver does: a
// create of a name it holds is answered 409 AlreadyExists, a patch of one it does not
// hold 404. The answers to the first loseAnswers creates are lost: the event is stored,
// then the connection closes before an answer is sent, as when a client's timeout or a
// dropped connection ends a request the server completed.
type eventStore struct {
	loseAnswers int

	mu       sync.Mutex
	stored   map[string]corev1.Event
	requests []string // "POST name", "PATCH name"
}

func (s *eventStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ev corev1.Event
	name := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	if r.Method == http.MethodPost {
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		name = ev.Name
	}
	s.requests = append(s.requests, r.Method+" "+name)
	gr := schema.GroupResource{Resource: "events"}
	_, exists := s.stored[name]
	switch {
	case r.Method == http.MethodPost && exists:
		writeStatus(w, apierrors.NewAlreadyExists(gr, name))
	case r.Method == http.MethodPost:
		s.stored[name] = ev
		if s.loseAnswers > 0 {
			s.loseAnswers--
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		}
		writeEvent(w, http.StatusCreated, ev)
	case r.Method == http.MethodPatch && exists:
		writeEvent(w, http.StatusOK, s.stored[name])
	default:
		writeStatus(w, apierrors.NewNotFound(gr, name))
	}
}

func (s *eventStore) sent() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

func writeEvent(w http.ResponseWriter, code int, ev corev1.Event) {
	ev.Kind, ev.APIVersion = "Event", "v1"
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(ev)
}

func writeStatus(w http.ResponseWriter, err *apierrors.StatusError) {
	st := err.ErrStatus
	st.Kind, st.APIVersion = "Status", "v1"
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(st.Code))
	json.NewEncoder(w).Encode(st)
}

// A create whose answer was lost is retried; the API server, which stored the event,
// answers the retry 409 AlreadyExists. The event is named after the Pod and the
// nanosecond the recorder made it, so the event that holds the name is this line's: it
// is counted created, nothing is printed about a drop, and a repeat of the line raises
// that event's Count.
func TestCreateWhoseAnswerWasLostIsCreated(t *testing.T) {
	api := &eventStore{loseAnswers: 1, stored: map[string]corev1.Event{}}
	hs := httptest.NewServer(api)
	defer hs.Close()
	client, err := kubernetes.NewForConfig(&rest.Config{Host: hs.URL})
	if err != nil {
		t.Fatal(err)
	}
	var out printed
	clk := clocktesting.NewFakeClock(time.Now())
	opts := testOptions(client, true)
	opts.clock = clk
	opts.log = newSelfLog(time.Minute)
	opts.log.print = out.print
	p := startPipeline(t, opts, client, "k8s_event {\n rate 1 10\n}")
	before := readOutcomes()

	p.listener.Error("plugin/errors: ", "upstream down")
	stepUntilDone(t, clk, time.Second, func() bool { return p.backlog.pending() == 0 })
	if got, want := readOutcomes().since(before), (outcomes{outcomeCreated: 1}); got.String() != want.String() {
		t.Errorf("outcomes %s, want %s: the event exists", got, want)
	}
	for _, line := range out.all() {
		if strings.Contains(line, "dropped") {
			t.Errorf("printed %q, but nothing was dropped", line)
		}
	}

	p.listener.Error("plugin/errors: ", "upstream down")
	stepUntilDone(t, clk, time.Second, func() bool { return p.backlog.pending() == 0 })
	sent := api.sent()
	if len(sent) != 3 || sent[0] != sent[1] || sent[2] != strings.Replace(sent[0], "POST", "PATCH", 1) {
		t.Errorf("requests %q, want a create, its retry, then a patch of the event they made", sent)
	}
}

// A 409 AlreadyExists on a create is the line's own event only when an earlier try may
// have been stored: no answer at all, or a 5xx. On a first try, or after a try the server
// did not take (answered 429, or a connection it refused), the name belongs to another
// event and the line is dropped.
func TestAlreadyExistsIsOursOnlyAfterATryThatMayHaveLanded(t *testing.T) {
	exists := apierrors.NewAlreadyExists(schema.GroupResource{Resource: "events"}, "coredns.1")
	lost := errors.New("http2: client connection lost")
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	tests := []struct {
		name    string
		answers []error
		want    string
	}{
		{"first try", []error{exists}, dropRejected},
		{"after a lost answer", []error{lost, exists}, outcomeCreated},
		{"after a 504", []error{statusError(http.StatusGatewayTimeout), exists}, outcomeCreated},
		{"after a 503", []error{statusError(http.StatusServiceUnavailable), exists}, outcomeCreated},
		{"after a 500", []error{statusError(http.StatusInternalServerError), exists}, outcomeCreated},
		{"after a 429", []error{statusError(http.StatusTooManyRequests), exists}, dropRejected},
		{"after a refused connection", []error{refused, exists}, dropRejected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, clk, client := newTestPipeline(t, "k8s_event")
			calls := answerCreates(client, tc.answers...)
			before := readOutcomes()
			p.listener.Error("plugin/errors: ", "upstream down")
			stepUntilDone(t, clk, time.Second, func() bool { return p.backlog.pending() == 0 })
			if got, want := readOutcomes().since(before), (outcomes{tc.want: 1}); got.String() != want.String() {
				t.Errorf("AlreadyExists %s (answers %v): outcomes %s, want %s", tc.name, tc.answers, got, want)
			}
			if got := calls.Load(); int(got) != len(tc.answers) {
				t.Errorf("%d create calls, want %d", got, len(tc.answers))
			}
		})
	}
}

// Only a create can meet its own earlier try: a patch (a repeated line) answered 409
// AlreadyExists after a 503 did not raise the event's count, and the line is dropped as
// refused, not counted merged.
func TestAlreadyExistsToAPatchIsNotTheLinesEvent(t *testing.T) {
	p, clk, client := newTestPipeline(t, "k8s_event")
	exists := apierrors.NewAlreadyExists(schema.GroupResource{Resource: "events"}, "coredns.1")
	answers := []error{statusError(http.StatusServiceUnavailable), exists}
	var calls atomic.Int32
	client.PrependReactor("patch", "events", func(k8stesting.Action) (bool, k8sruntime.Object, error) {
		return true, nil, answers[min(int(calls.Add(1)), len(answers))-1]
	})
	before := readOutcomes()
	for range 2 {
		p.listener.Error("plugin/errors: ", "upstream down")
		stepUntilDone(t, clk, time.Second, func() bool { return p.backlog.pending() == 0 })
	}
	if got, want := readOutcomes().since(before), (outcomes{outcomeCreated: 1, dropRejected: 1}); got.String() != want.String() {
		t.Errorf("the repeat's patch answered %v: outcomes %s, want %s: a patch's AlreadyExists taken as its own earlier try", answers, got, want)
	}
	if got := calls.Load(); got != 2 {
		t.Errorf("%d patch calls, want 2", got)
	}
}
