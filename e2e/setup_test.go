package e2e

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"
)

// A test's set-up (starting a control plane of its own, applying manifests to it,
// starting CoreDNS until it serves) is not what the test is about: it may take as long as
// the machine needs, and only the test binary's -timeout bounds it. What bounds how many
// set-ups run at once is the number of CPUs: a control plane's start is seconds of CPU
// time, and a dozen of them at once on two cores, with a build beside them, take
// minutes each.

// cleanupMargin is the time left, after a set-up gives up, for the test to stop what it
// started and say why it failed before the test binary's -timeout kills it.
const cleanupMargin = time.Minute

// setUpContext is the context of one step of t's set-up: it ends cleanupMargin before
// the test binary's -timeout, or when the test has ended.
func setUpContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if d, ok := t.Deadline(); ok {
		ctx, cancel = context.WithDeadline(ctx, d.Add(-cleanupMargin))
	}
	t.Cleanup(cancel)
	return ctx
}

// setUp runs step, a step of t's set-up, with setUpContext, and fails t if it fails,
// saying what it waited for and for how long.
func setUp(t *testing.T, what string, step func(ctx context.Context) error) {
	t.Helper()
	began := time.Now()
	if err := step(setUpContext(t)); err != nil {
		t.Fatalf("set-up: %s: failed after %v: %v", what, time.Since(began).Round(time.Millisecond), err)
	}
}

// startSlots bounds the set-ups that run at once to the number of CPUs. A test waiting
// for a slot has not begun its set-up, and no wait of its counts that time.
var startSlots = newSlots(runtime.NumCPU())

// slots is a semaphore whose waiters are served in order, those that asked for a slot
// with first before the others.
type slots struct {
	mu      sync.Mutex
	free    int
	first   []chan struct{}
	waiting []chan struct{}
}

func newSlots(n int) *slots { return &slots{free: max(n, 1)} }

// acquire takes a slot for t, waiting as long as it takes, and returns its release,
// which t's clean-up calls too if t has not. A test that is long whatever the machine
// (an outage of minutes) asks first, so that the suite does not wait for it at the end.
func (s *slots) acquire(t *testing.T, first bool) (release func()) {
	t.Helper()
	began := time.Now()
	s.mu.Lock()
	if s.free > 0 && len(s.first)+len(s.waiting) == 0 {
		s.free--
		s.mu.Unlock()
	} else {
		turn := make(chan struct{})
		if first {
			s.first = append(s.first, turn)
		} else {
			s.waiting = append(s.waiting, turn)
		}
		s.mu.Unlock()
		<-turn
	}
	if waited := time.Since(began); waited > time.Second {
		t.Logf("waited %v for one of the %d set-up slots", waited.Round(time.Millisecond), runtime.NumCPU())
	}
	var once sync.Once
	release = func() { once.Do(s.release) }
	t.Cleanup(release)
	return release
}

// release hands the slot to the next waiter, or frees it.
func (s *slots) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range []*[]chan struct{}{&s.first, &s.waiting} {
		if len(*q) > 0 {
			turn := (*q)[0]
			*q = (*q)[1:]
			close(turn)
			return
		}
	}
	s.free++
}
