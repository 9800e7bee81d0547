package k8s_event

import (
	"errors"
	"fmt"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

// The first event of a process that looks its Pod's UID up carries the UID: a write
// waits for the first lookup, and must find its result stored when it goes on.
func TestFirstEventAfterLookupCarriesUID(t *testing.T) {
	for i := range 300 {
		client := newFake()
		p := startPipeline(t, testOptions(client, false), client, "k8s_event")
		p.listener.Error("plugin/errors: ", "first line")
		evs := eventuallyEvents(t, client, testNS, "the first event", func(evs []corev1.Event) bool { return len(evs) == 1 })
		if uid := evs[0].InvolvedObject.UID; uid != testUID {
			t.Fatalf("try %d: the first event's UID is %q, want %q", i, uid, testUID)
		}
		p.stop()
	}
}

// client-go's correlator tells events apart by their involved object, UID included: a
// line recorded before the lookup found the UID and the same line recorded after it are
// two events (README, "When the API server fails"), and similar lines aggregate on either
// side separately. The later event carries the UID.
func TestLineRepeatedAcrossTheUIDLookupIsTwoEvents(t *testing.T) {
	client := newFake()
	var podsDown atomic.Bool
	podsDown.Store(true)
	client.PrependReactor("list", "pods", func(k8stesting.Action) (bool, k8sruntime.Object, error) {
		if podsDown.Load() {
			return true, nil, errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
		}
		return false, nil, nil
	})
	p := startPipeline(t, testOptions(client, false), client, "k8s_event")

	const msg = "plugin/errors: the same line"
	p.listener.Error("plugin/errors: ", "the same line")
	eventuallyEvents(t, client, testNS, "the line written before the UID is known", func(evs []corev1.Event) bool { return len(evs) == 1 })
	podsDown.Store(false)
	<-p.ref.done
	p.listener.Error("plugin/errors: ", "the same line")
	p.listener.Error("plugin/errors: ", "the same line")
	evs := eventuallyEvents(t, client, testNS, "the line's events counting 3", func(evs []corev1.Event) bool {
		var n int32
		for _, e := range evs {
			n += e.Count
		}
		return n == 3
	})
	if len(evs) != 2 || evs[0].Message != msg || evs[1].Message != msg {
		t.Fatalf("want two events of %q, got %s", msg, describe(evs))
	}
	uids := map[types.UID]int32{evs[0].InvolvedObject.UID: evs[0].Count, evs[1].InvolvedObject.UID: evs[1].Count}
	if uids[""] != 1 || uids[testUID] != 2 {
		t.Errorf("want Count 1 without a UID and Count 2 with the Pod's, got %v", uids)
	}
}

// apiLog makes every call of the fake fail as an unreachable API server's do while down
// is set, and notes each call: when (on clk), what, and the event of a create.
type apiLog struct {
	down atomic.Bool
	// failPods is how many more Pod lookups the API server, up, answers 503.
	failPods atomic.Int32
	clk      *clocktesting.FakeClock
	mu       sync.Mutex
	calls    []apiCall
}

type apiCall struct {
	at       time.Time
	verb     string
	resource string
	answered bool          // the fake was up
	event    *corev1.Event // of an event create
}

func logAPI(client *fake.Clientset, clk *clocktesting.FakeClock) *apiLog {
	l := &apiLog{clk: clk}
	l.down.Store(true)
	client.PrependReactor("*", "*", func(a k8stesting.Action) (bool, k8sruntime.Object, error) {
		c := apiCall{at: clk.Now(), verb: a.GetVerb(), resource: a.GetResource().Resource, answered: !l.down.Load()}
		if create, ok := a.(k8stesting.CreateAction); ok && c.resource == "events" {
			c.event = create.GetObject().(*corev1.Event).DeepCopy()
		}
		l.mu.Lock()
		l.calls = append(l.calls, c)
		l.mu.Unlock()
		if !c.answered {
			return true, nil, errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
		}
		if c.resource == "pods" && l.failPods.Add(-1) >= 0 {
			return true, nil, apierrors.NewServiceUnavailable("the server is starting")
		}
		return false, nil, nil
	})
	return l
}

// since returns the calls made from the i-th on.
func (l *apiLog) since(i int) []apiCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]apiCall(nil), l.calls[i:]...)
}

// count returns how many calls were made so far.
func (l *apiLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.calls)
}

// settle lets the pipeline's goroutines react to a step of the fake clock.
func settle() { time.Sleep(5 * time.Millisecond) }

// CoreDNS started while the API server is down, without COREDNS_POD_UID: once the API
// server is back, every event written carries the Pod's UID, the first one included. The
// API server comes back right after a failed lookup, when the lookup's own backoff puts
// its next try a minute away and the write retries come first.
func TestEventsAfterAnOutageAtStartCarryTheUID(t *testing.T) {
	outageAtStart(t, 0)
}

// The same, the first lookup after the outage answered 503, as by an API server that is
// still starting: the write that asked for it waits and tries again, the lookup first,
// rather than being stored without the UID a moment later. (Seen in the e2e suite's
// TestStartedWhileAPIServerDown: one event without the UID, two lookups.)
func TestEventsAfterAnOutageAndAFailedLookupCarryTheUID(t *testing.T) {
	outageAtStart(t, 1)
}

// outageAtStart runs the tests above, the first failLookups lookups after the outage
// answered 503.
func outageAtStart(t *testing.T, failLookups int32) {
	clk := clocktesting.NewFakeClock(time.Now())
	client := newFake()
	api := logAPI(client, clk) // down from the start
	opts := testOptions(client, false)
	opts.clock = clk
	opts.lookupRetry = defaultOptions().lookupRetry
	p := startPipeline(t, opts, client, "k8s_event")
	p.listener.Error("plugin/errors: ", "logged during the outage")

	// Three minutes of outage: the lookup's backoff is at its cap of a minute, the
	// write's at 30 s. Then the API server comes back right after a lookup failed.
	outageEnd := clk.Now().Add(3 * time.Minute)
	for deadline := time.Now().Add(30 * time.Second); ; {
		if time.Now().After(deadline) {
			t.Fatalf("no UID lookup in the outage's last minute of fake time (now %s after it began)",
				clk.Since(outageEnd.Add(-3*time.Minute)))
		}
		before := api.count()
		clk.Step(time.Second)
		settle()
		lookedUp := false
		for _, c := range api.since(before) {
			lookedUp = lookedUp || c.resource == "pods"
		}
		if lookedUp && !clk.Now().Before(outageEnd) {
			break
		}
	}
	recovered, from := clk.Now(), api.count()
	api.failPods.Store(failLookups)
	api.down.Store(false)

	stepUntilDone(t, clk, time.Second, func() bool { settle(); return p.backlog.pending() == 0 })
	for i := range 3 {
		p.listener.Errorf("plugin/errors: ", "logged after the outage %d", i)
	}
	stepUntilDone(t, clk, time.Second, func() bool { settle(); return p.backlog.pending() == 0 })

	after := api.since(from)
	var lookups, writes int
	var trace string
	for _, c := range after {
		trace += fmt.Sprintf("\n  +%s %s %s", c.at.Sub(recovered), c.verb, c.resource)
		switch {
		case c.resource == "pods":
			lookups++
		case c.event != nil:
			writes++
			trace += fmt.Sprintf(" %q uid=%q", c.event.Message, c.event.InvolvedObject.UID)
			if c.event.InvolvedObject.UID != testUID {
				t.Errorf("event %q written %s after the API server came back without the Pod's UID",
					c.event.Message, c.at.Sub(recovered))
			}
		}
	}
	if writes != 4 {
		t.Errorf("%d event creates after the API server came back, want 4", writes)
	}
	if lookups != 1+int(failLookups) {
		t.Errorf("%d UID lookups after the API server came back, want %d", lookups, 1+failLookups)
	}
	if len(after) == 0 || after[0].resource != "pods" {
		t.Errorf("the first call after the API server came back is not the UID lookup")
	}
	if t.Failed() {
		t.Logf("calls after the API server came back:%s", trace)
	}
}

// A lookup the API server refuses for good (list pods forbidden: the RBAC rule is
// missing) is not tried again before each write: it waits for its own backoff, and the
// events are written without the UID meanwhile.
func TestLookupRefusedForGoodIsNotTriedPerWrite(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	client := newFake()
	var lists atomic.Int32
	client.PrependReactor("list", "pods", func(k8stesting.Action) (bool, k8sruntime.Object, error) {
		lists.Add(1)
		return true, nil, statusError(http.StatusForbidden)
	})
	opts := testOptions(client, false)
	opts.clock = clk // not stepped: the lookup's backoff never ends
	opts.lookupRetry = defaultOptions().lookupRetry
	p := startPipeline(t, opts, client, "k8s_event")
	for i := range 5 {
		p.listener.Errorf("plugin/errors: ", "line %d", i)
	}
	evs := eventuallyEvents(t, client, testNS, "5 events", func(evs []corev1.Event) bool { return len(evs) == 5 })
	for _, e := range evs {
		if e.InvolvedObject.UID != "" {
			t.Errorf("event %q has UID %q, want none: the lookup was refused", e.Message, e.InvolvedObject.UID)
		}
	}
	if n := lists.Load(); n != 1 {
		t.Errorf("%d UID lookups for 5 event writes, want the first alone", n)
	}
}
