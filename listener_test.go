package k8s_event

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

// newTestPipeline starts a pipeline with the settings of stanza on a fake clientset and a
// fake clock (startPipeline).
func newTestPipeline(t *testing.T, stanza string, change ...func(*options)) (*pipeline, *clocktesting.FakeClock, *fake.Clientset) {
	t.Helper()
	clk := clocktesting.NewFakeClock(time.Now())
	client := newFake()
	opts := testOptions(client, true)
	opts.clock = clk
	for _, c := range change {
		c(&opts)
	}
	return startPipeline(t, opts, client, stanza), clk, client
}

func TestBurstThenThrottle(t *testing.T) {
	p, clk, client := newTestPipeline(t, "k8s_event {\n level info error\n rate 1/10 5\n}")
	for i := range 20 {
		p.listener.Errorf("plugin/errors: ", "warning-type line %d", i)
		p.listener.Infof("plugin/reload: ", "normal-type line %d", i)
	}
	// Each event type has its own bucket of 5.
	waitCount(t, client, 10)
	// 10 s later one token per bucket is back.
	clk.Step(10 * time.Second)
	for i := range 5 {
		p.listener.Errorf("plugin/errors: ", "later %d", i)
	}
	p.stop()
	evs := events(t, client, testNS)
	for i := range 5 {
		for _, msg := range []string{fmt.Sprintf("plugin/errors: warning-type line %d", i), fmt.Sprintf("plugin/reload: normal-type line %d", i)} {
			if n, _ := countMessage(evs, msg); n != 1 {
				t.Errorf("%q: %d events, want 1", msg, n)
			}
		}
	}
	if n, _ := countMessage(evs, "plugin/errors: later 0"); n != 1 {
		t.Errorf("the line after the refill was not reported: %s", describe(evs))
	}
	if len(evs) != 11 {
		t.Errorf("%d events, want 5 + 5 from the bursts and 1 after the refill: %s", len(evs), describe(evs))
	}
}

func TestRepeatedLineCountsUp(t *testing.T) {
	p, _, client := newTestPipeline(t, "k8s_event {\n rate 1 10\n}")
	for range 4 {
		p.listener.Error("plugin/errors: ", "same line")
	}
	p.stop()
	evs := events(t, client, testNS)
	if n, count := countMessage(evs, "plugin/errors: same line"); n != 1 || count != 4 {
		t.Errorf("want one event with Count 4, got %s", describe(evs))
	}
}

func TestFatalWrittenBeforeReturn(t *testing.T) {
	p, _, client := newTestPipeline(t, "k8s_event {\n level fatal\n}")
	p.listener.Fatalf("plugin/loop: ", "Loop (%s -> %s) detected for zone %q", "127.0.0.1:53", ":53", ".")
	// No waiting: the event must be there as the call returns, as os.Exit follows.
	evs := events(t, client, testNS)
	if len(evs) != 1 {
		t.Fatalf("want the fatal event written before Fatalf returned, got %s", describe(evs))
	}
	checkEvent(t, evs[0], wantEvent(podRef, "CoreDNSFatal", "Warning", `plugin/loop: Loop (127.0.0.1:53 -> :53) detected for zone "."`))
}

func TestFatalBoundedWhenAPIHangs(t *testing.T) {
	p, _, client := newTestPipeline(t, "k8s_event {\n level fatal\n}", func(o *options) { o.fatalTimeout = 100 * time.Millisecond })
	release := make(chan struct{})
	defer close(release)
	client.PrependReactor("create", "events", func(k8stesting.Action) (bool, k8sruntime.Object, error) {
		<-release
		return true, nil, nil
	})
	done := make(chan struct{})
	go func() {
		p.listener.Fatal("plugin/loop: ", "Loop detected")
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a fatal line waited more than 5 s on a hung API, want it bounded by the 100 ms timeout")
	}
}

func TestRefusedLineDoesNotAllocate(t *testing.T) {
	p, _, _ := newTestPipeline(t, "k8s_event {\n rate 1/3600 1\n}")
	p.listener.Errorf("plugin/errors: ", "takes the only token")
	cases := map[string]func(){
		"level not reported": func() { p.listener.Infof("plugin/errors: ", "%s", "x") },
		"rate limited":       func() { p.listener.Errorf("plugin/errors: ", "%s", "x") },
	}
	for name, f := range cases {
		if allocs := testing.AllocsPerRun(1000, f); allocs != 0 {
			t.Errorf("%s: %v allocations per line, want 0", name, allocs)
		}
	}
}

// waitCount waits until the events in the test namespace add up to n lines.
func waitCount(t *testing.T, client *fake.Clientset, n int) {
	t.Helper()
	eventuallyEvents(t, client, testNS, fmt.Sprintf("%d events", n), func(evs []corev1.Event) bool { return len(evs) == n })
}

func TestFatalWrittenWhileUIDLookupHangs(t *testing.T) {
	client := newFake()
	opts := testOptions(hangingPodLists(client), false)
	opts.fatalTimeout = 400 * time.Millisecond
	opts.flushTimeout = 100 * time.Millisecond
	p := startPipeline(t, opts, hangingPodLists(client), "k8s_event {\n level fatal\n}")

	start := time.Now()
	p.listener.Fatal("plugin/loop: ", "Loop detected")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Fatal took %s with a hung lookup, want it bounded by the 400 ms timeout", d)
	}
	evs := events(t, client, testNS)
	ref := podRef
	ref.UID = ""
	if len(evs) != 1 {
		t.Fatalf("want the fatal event written without a UID, got %s", describe(evs))
	}
	checkEvent(t, evs[0], wantEvent(ref, "CoreDNSFatal", "Warning", "plugin/loop: Loop detected"))
}

// hangingPodLists wraps a fake clientset so that listing pods waits until its context
// ends. (A reactor cannot do it: the fake holds one lock across all reactors.)
func hangingPodLists(c *fake.Clientset) kubernetes.Interface {
	return clientWithHangingPods{Clientset: c}
}

// clientWithHangingPods lists pods after delay, or never (0), until its context ends.
type clientWithHangingPods struct {
	*fake.Clientset
	delay time.Duration
}

func (c clientWithHangingPods) CoreV1() typedcorev1.CoreV1Interface {
	return coreWithHangingPods{c.Clientset.CoreV1(), c.delay}
}

type coreWithHangingPods struct {
	typedcorev1.CoreV1Interface
	delay time.Duration
}

func (c coreWithHangingPods) Pods(ns string) typedcorev1.PodInterface {
	return hangingPods{c.CoreV1Interface.Pods(ns), c.delay}
}

type hangingPods struct {
	typedcorev1.PodInterface
	delay time.Duration
}

func (h hangingPods) List(ctx context.Context, opts metav1.ListOptions) (*corev1.PodList, error) {
	if h.delay == 0 {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	select {
	case <-time.After(h.delay):
		return h.PodInterface.List(ctx, opts)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// A fatal line logged while the UID lookup is on its way waits for it (up to half its
// timeout): the last event of the process is the one kubectl describe pod must show.
func TestFatalWaitsForTheUIDLookup(t *testing.T) {
	client := newFake()
	slow := slowPodLists(client, 300*time.Millisecond)
	opts := testOptions(slow, false)
	opts.fatalTimeout = 10 * time.Second
	p := startPipeline(t, opts, slow, "k8s_event {\n level fatal\n}")

	p.listener.Fatal("plugin/loop: ", "Loop detected")
	evs := events(t, client, testNS)
	if len(evs) != 1 {
		t.Fatalf("want the fatal event, got %s", describe(evs))
	}
	checkEvent(t, evs[0], wantEvent(podRef, "CoreDNSFatal", "Warning", "plugin/loop: Loop detected"))
}

// slowPodLists wraps a fake clientset so that listing pods answers after delay.
func slowPodLists(c *fake.Clientset, delay time.Duration) kubernetes.Interface {
	return clientWithHangingPods{Clientset: c, delay: delay}
}
