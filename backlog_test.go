package k8s_event

import (
	"sync"
	"testing"
	"time"
)

// wait returns once the last admitted line is resolved, and counted: reading the
// metrics after it, as stop's callers do, misses no line. It does not return while a
// line is still on its way.
func TestWaitReturnsOnceTheLastLineIsCounted(t *testing.T) {
	b := newBacklog()
	for range 2 {
		if !b.take(2) {
			t.Fatal("the backlog refused a line it has room for")
		}
	}
	before := readOutcomes()
	waited := make(chan struct{})
	go func() { b.wait(time.Now().Add(time.Minute)); close(waited) }()
	b.resolve(outcomeCreated, "")
	select {
	case <-waited:
		t.Fatal("wait returned while a line was still on its way")
	case <-time.After(100 * time.Millisecond):
	}
	b.resolve("", dropRejected)
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		t.Fatal("wait did not return once the last line was resolved")
	}
	if got, want := readOutcomes().since(before), (outcomes{outcomeCreated: 1, dropRejected: 1}); got.String() != want.String() {
		t.Errorf("outcomes after the wait %s, want %s", got, want)
	}
}

// wait gives up at its deadline when lines are still on their way.
func TestWaitEndsAtItsDeadline(t *testing.T) {
	b := newBacklog()
	if !b.take(1) {
		t.Fatal("an empty backlog refused a line")
	}
	const bound = 50 * time.Millisecond
	start := time.Now()
	b.wait(start.Add(bound))
	if took := time.Since(start); took < bound || took > 10*time.Second {
		t.Errorf("wait with a line on its way took %s, want its bound, %s", took, bound)
	}
}

// stop counts the lines still on their way as dropped at shutdown; a line resolved
// after it is not counted again, and one admitted after it is dropped at shutdown.
func TestStopCountsWhatIsLeftOnce(t *testing.T) {
	b := newBacklog()
	before := readOutcomes()
	for range 3 {
		if !b.take(3) {
			t.Fatal("the backlog refused a line it has room for")
		}
	}
	if b.take(3) {
		t.Error("a full backlog took a fourth line")
	}
	b.resolve(outcomeCreated, "")
	b.stop()
	b.resolve(outcomeMerged, "")
	if b.take(3) {
		t.Error("a stopped backlog took a line")
	}
	b.wait(time.Now().Add(time.Minute)) // returns at once: nothing is on its way any more
	want := outcomes{outcomeCreated: 1, dropQueueFull: 1, dropShutdown: 3}
	if got := readOutcomes().since(before); got.String() != want.String() {
		t.Errorf("outcomes %s, want %s", got, want)
	}
}

// Metrics read as stop returns are final: every line admitted is counted once, by its
// outcome if its resolve came first, as dropped at shutdown if not, though resolves run
// on other goroutines while stop counts. go test -race (make test runs it) also fails if
// stop and resolve do not exclude each other.
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
