package k8s_event

import (
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
)

// A line whose log call read the settings just before the final shutdown, and goes on
// after it: it ends in a counted outcome too, dropped as still on its way at shutdown, so
// that lines_total grows by exactly what reported_total and dropped_total grow by.
func TestLineLoggedAcrossTheFinalShutdownIsCounted(t *testing.T) {
	p, _, _ := newTestPipeline(t, "k8s_event")
	before, lines := readOutcomes(), linesCount.WithLabelValues("error").Value()
	s := p.listener.settings.Load() // the log call has read the settings...
	p.stop()                        // ...the final shutdown runs to its end...
	p.listener.settings.Store(s)    // ...and the call goes on with what it read.
	p.listener.Error("plugin/errors: ", "logged as CoreDNS stops")

	if selected := linesCount.WithLabelValues("error").Value() - lines; selected != 1 {
		t.Errorf("%v lines selected, want 1", selected)
	}
	if got, want := readOutcomes().since(before), (outcomes{dropShutdown: 1}); got.String() != want.String() {
		t.Errorf("outcomes %s, want %s", got, want)
	}
}

// A line admitted while the final shutdown waits for the lines on their way, by a log
// call that read the settings just before it began, is written like them if the API
// answers, and the shutdown returns once nothing is left, not at its flush bound.
func TestLineAdmittedDuringTheFinalShutdownIsWritten(t *testing.T) {
	const flushBound = 10 * time.Second
	p, _, client := newTestPipeline(t, "k8s_event", func(o *options) { o.flushTimeout = flushBound })
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	client.PrependReactor("create", "events", func(k8stesting.Action) (bool, k8sruntime.Object, error) {
		if calls.Add(1) == 1 {
			close(entered)
			<-release // the first line's write waits for the API
		}
		return false, nil, nil
	})
	before := readOutcomes()
	p.listener.Error("plugin/errors: ", "on its way as CoreDNS stops")
	<-entered

	s := p.listener.settings.Load() // a log call has read the settings...
	stopped := make(chan time.Time)
	go func() {
		p.stop()
		stopped <- time.Now()
	}()
	for p.listener.settings.Load() != nil {
		time.Sleep(time.Millisecond)
	}
	select { // ...the final shutdown began, and the sender had its chance to exit...
	case <-p.sender.done:
	case <-time.After(100 * time.Millisecond):
	}
	p.listener.settings.Store(s) // ...and the call goes on with what it read.
	p.listener.Error("plugin/errors: ", "logged as CoreDNS stops")
	p.listener.settings.Store(nil)
	answered := time.Now()
	close(release)

	var took time.Duration
	select {
	case at := <-stopped:
		took = at.Sub(answered)
	case <-time.After(2 * flushBound):
		t.Fatal("the final shutdown did not return")
	}
	if took >= flushBound {
		t.Errorf("the final shutdown returned %s after the API answered: it waited out its flush bound (%s) for a line nothing was to write", took, flushBound)
	}
	if got, want := readOutcomes().since(before), (outcomes{outcomeCreated: 2}); got.String() != want.String() {
		t.Errorf("outcomes %s, want %s: both lines admitted before the stop written", got, want)
	}
	if evs := events(t, client, testNS); len(evs) != 2 {
		t.Errorf("%s, want both lines", describe(evs))
	}
}

// A write the API answers only after the final shutdown counted its line as dropped (a
// client that outlives its context) does not count the line a second time, and a line
// a log call admits after that is still refused as at shutdown, not as a full backlog.
func TestWriteAnsweredAfterTheFinalShutdownIsNotCountedAgain(t *testing.T) {
	p, _, client := newTestPipeline(t, "k8s_event", func(o *options) { o.flushTimeout = 100 * time.Millisecond })
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	client.PrependReactor("create", "events", func(k8stesting.Action) (bool, k8sruntime.Object, error) {
		once.Do(func() { close(entered) })
		<-release // the fake does not honour the write's context: it answers when told
		return false, nil, nil
	})
	before := readOutcomes()
	p.listener.Error("plugin/errors: ", "on its way as CoreDNS stops")
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the line's write did not reach the API")
	}

	s := p.listener.settings.Load()
	p.stop()
	if got, want := readOutcomes().since(before), (outcomes{dropShutdown: 1}); got.String() != want.String() {
		t.Fatalf("outcomes after the final shutdown %s, want %s: the line on its way dropped", got, want)
	}
	if !sinkBusy() {
		t.Fatal("no goroutine in client-go's recordToSink: the write the test holds is not where it was")
	}
	close(release) // the API answers, too late
	deadline := time.Now().Add(10 * time.Second)
	for sinkBusy() {
		if time.Now().After(deadline) {
			t.Fatal("the write answered after the shutdown did not return")
		}
		time.Sleep(time.Millisecond)
	}
	p.listener.settings.Store(s) // a log call that read the settings before the shutdown goes on
	p.listener.Error("plugin/errors: ", "logged after the shutdown")
	p.listener.settings.Store(nil)

	if got, want := readOutcomes().since(before), (outcomes{dropShutdown: 2}); got.String() != want.String() {
		t.Errorf("outcomes %s, want %s: the late answer counted the line again, or the line after "+
			"the shutdown was not refused as at shutdown (the stop mark in the backlog count lost)", got, want)
	}
}

// sinkBusy reports whether a goroutine is in client-go's recordToSink: a client-go event
// broadcaster is handing an event to its sink, and the sink has not returned.
func sinkBusy() bool {
	buf := make([]byte, 1<<22)
	return strings.Contains(string(buf[:runtime.Stack(buf, true)]), "k8s.io/client-go/tools/record.(*eventBroadcasterImpl).recordToSink")
}

// A fatal line logged by a call that read the settings just before the final shutdown
// and wrote after it: CoreDNS exits on it, so its event is written all the same, by a
// write the shutdown's end of every other call does not cancel.
func TestFatalLineLoggedAcrossTheFinalShutdownIsWritten(t *testing.T) {
	api := &eventStore{stored: map[string]corev1.Event{}}
	hs := httptest.NewServer(api)
	defer hs.Close()
	client, err := kubernetes.NewForConfig(&rest.Config{Host: hs.URL})
	if err != nil {
		t.Fatal(err)
	}
	var out printed
	opts := testOptions(client, true)
	opts.log = newSelfLog(time.Minute)
	opts.log.print = out.print
	p := startPipeline(t, opts, client, "k8s_event {\n level fatal\n}")

	s := p.listener.settings.Load() // the log call has read the settings...
	p.stop()                        // ...the final shutdown runs to its end...
	p.listener.settings.Store(s)    // ...and the call goes on with what it read.
	p.listener.Fatal("plugin/loop: ", "Loop detected as CoreDNS stops")
	p.listener.settings.Store(nil)

	// No waiting: CoreDNS exits as the call returns.
	api.mu.Lock()
	stored := len(api.stored)
	api.mu.Unlock()
	if sent := api.sent(); len(sent) != 1 || stored != 1 {
		t.Errorf("requests %q, %d events stored, want the fatal line's create, stored; printed %q: "+
			"the fatal write was canceled with the pipeline's calls at the final shutdown", sent, stored, out.all())
	}
}
