package k8s_event

import (
	"sync/atomic"
	"time"

	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
)

// waitCountingClock is a fake clock that counts the waits begun on it. Newer k8s.io/utils
// have FakeClock.Waiters for this; the one the oldest supported client-go selects does not.
// A wait ends only when the clock moves, so while it stands still the count is the number
// of waits pending.
type waitCountingClock struct {
	*clocktesting.FakeClock
	waits atomic.Int64
}

// countWaits returns clk with its waits counted.
func countWaits(clk *clocktesting.FakeClock) *waitCountingClock {
	return &waitCountingClock{FakeClock: clk}
}

func (c *waitCountingClock) After(d time.Duration) <-chan time.Time {
	c.waits.Add(1)
	return c.FakeClock.After(d)
}

func (c *waitCountingClock) NewTimer(d time.Duration) clock.Timer {
	c.waits.Add(1)
	return c.FakeClock.NewTimer(d)
}

// begun returns how many waits began on the clock.
func (c *waitCountingClock) begun() int { return int(c.waits.Load()) }
