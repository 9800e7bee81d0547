package k8s_event

import (
	"sync/atomic"
	"testing"
	"time"

	k8sruntime "k8s.io/apimachinery/pkg/runtime"
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
