package k8s_event

import (
	"sync"
	"testing"
	"time"
)

// A wait that returns while a resolve has taken its line off the backlog but not counted
// it yet lets a caller read the metrics one line short: stop, then reading reported_total,
// missed the last line in about one run of fifty reloads on a busy machine.
func TestWaitReturnsOnceTheLastLineIsCounted(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	testHookUncounted = func() { close(entered); <-release }
	defer func() { testHookUncounted = nil }()
	b := newBacklog()
	if !b.take(1) {
		t.Fatal("an empty backlog refused a line")
	}
	before := readOutcomes()
	go b.resolve(outcomeCreated, "")
	<-entered

	waited := make(chan struct{})
	go func() { b.wait(time.Now().Add(time.Minute)); close(waited) }()
	select {
	case <-waited:
		t.Fatal("wait returned while the last line was not counted yet")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	<-waited
	if got := readOutcomes().since(before); got[outcomeCreated] != 1 {
		t.Errorf("outcomes after the wait %s, want the line counted created", got)
	}
}

// Metrics read as stop returns are final: every line admitted is counted once, by its
// outcome if its resolve came first, as dropped at shutdown if not, though resolves run
// on other goroutines while stop counts. Repeated, so that resolves fall on every side
// of stop.
func TestStopLeavesEveryLineCountedOnce(t *testing.T) {
	const rounds, lines, resolvers = 200, 64, 4
	for range rounds {
		b := newBacklog()
		before := readOutcomes()
		for range lines {
			if !b.take(lines) {
				t.Fatal("the backlog refused a line it has room for")
			}
		}
		resolving := make(chan struct{}, resolvers)
		var wg sync.WaitGroup
		for range resolvers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range lines / resolvers {
					b.resolve(outcomeCreated, "")
					if i == 0 {
						resolving <- struct{}{}
					}
				}
			}()
		}
		<-resolving
		b.stop()
		atStop := readOutcomes().since(before)
		wg.Wait()
		if n := atStop[outcomeCreated] + atStop[dropShutdown]; n != lines {
			t.Fatalf("as stop returned, %v lines counted (%s), want all %d", n, atStop, lines)
		}
		if after := readOutcomes().since(before); after.String() != atStop.String() {
			t.Fatalf("counted %s as stop returned, %s later: a line counted twice", atStop, after)
		}
	}
}

// stop, like wait, returns only once a resolve that took its line off the backlog has
// counted it: metrics read after stop are final.
func TestStopReturnsOnceTheLastLineIsCounted(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	testHookUncounted = func() { close(entered); <-release }
	defer func() { testHookUncounted = nil }()
	b := newBacklog()
	if !b.take(1) {
		t.Fatal("an empty backlog refused a line")
	}
	before := readOutcomes()
	go b.resolve(outcomeCreated, "")
	<-entered

	stopped := make(chan struct{})
	go func() { b.stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("stop returned while the last line was not counted yet")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	<-stopped
	if got := readOutcomes().since(before); got.String() != (outcomes{outcomeCreated: 1}).String() {
		t.Errorf("outcomes after stop %s, want the line counted created, once", got)
	}
}
