package k8s_event

import (
	"runtime"
	"sync/atomic"
	"time"
)

// line is a log line on its way to the Events API.
type line struct {
	level   level
	message string // the logger's prefix ("plugin/NAME: ") and the text, see formatMessage
}

// backlog holds the admitted lines on their way to the Events API: a line enters it in
// the log call that admitted it (enqueue) and leaves it when the sink resolves it,
// written or dropped, counted once. It holds lines until the API takes them, during an
// outage too, and its bound is what keeps the memory bounded.
type backlog struct {
	queue    chan line    // admitted lines the sender has not recorded yet
	inflight atomic.Int64 // admitted lines not yet resolved, and stoppedBit
	counting atomic.Int64 // resolves between taking a line off inflight and counting it
}

// stoppedBit is set in inflight by stop, once it counted what was still on its way: from
// then on a line is dropped as it arrives, and a line that ends is not counted again.
// One number for both, so that a log call that read the settings just before stop and
// goes on after it cannot slip a line in between.
const stoppedBit = int64(1) << 62

func newBacklog() *backlog { return &backlog{queue: make(chan line, maxBacklog)} }

// queueSize returns the backlog for a BURST: room for the full bursts of four plugins at once
// (during an API outage, the flood of one plugin's lines and the lines of the others that
// report its consequences, reload's, kubernetes', forward's), and a margin, but never
// more than maxBacklog. Only lines the token buckets admitted enter the backlog.
//
// maxBacklog stays below client-go's broadcaster queue (1000 events), which drops what
// does not fit without telling anyone: every admitted line is in the backlog until the
// sink resolves it, so client-go never holds more than maxBacklog of them, and a line
// handed to it always reaches the sink, counted. It is also the capacity of the hand-off
// channel (see enqueue). At about 2 KB a line (a message of up to 1 KB and its Event),
// a full backlog is under 2 MB.
func queueSize(burst int) int { return min(4*burst+16, maxBacklog) }

const maxBacklog = 960

// enqueue hands an admitted line to the sender, or drops it when the backlog already
// holds limit lines.
func (b *backlog) enqueue(ln line, limit int64) {
	if !b.take(limit) {
		return
	}
	select {
	case b.queue <- ln: // never full: the channel holds maxBacklog, and inflight counts it
	default:
		b.resolve("", dropQueueFull)
	}
}

// take counts an admitted line on its way, unless the backlog already holds limit lines
// or it stopped: then it counts the line dropped and returns false.
func (b *backlog) take(limit int64) bool {
	for {
		n := b.inflight.Load()
		switch {
		case n&stoppedBit != 0:
			droppedShutdown.Inc()
			return false
		case n >= limit:
			droppedQueueFull.Inc()
			return false
		}
		if b.inflight.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// resolve takes an admitted line off the backlog and counts it, by its drop reason or its
// outcome, unless stop already counted it.
func (b *backlog) resolve(outcome, reason string) {
	b.counting.Add(1)
	defer b.counting.Add(-1)
	for {
		n := b.inflight.Load()
		if n&stoppedBit != 0 {
			return
		}
		if b.inflight.CompareAndSwap(n, n-1) {
			break
		}
	}
	if testHookUncounted != nil {
		testHookUncounted()
	}
	if reason != "" {
		droppedCount.WithLabelValues(reason).Inc()
		return
	}
	reportedCount.WithLabelValues(outcome).Inc()
}

// testHookUncounted, if set, runs in resolve between taking the line off inflight and
// counting it: tests hold a resolve there.
var testHookUncounted func()

// flushPoll is how often wait checks whether the backlog is written.
const flushPoll = 5 * time.Millisecond

// wait waits until every admitted line is resolved and counted, or deadline.
func (b *backlog) wait(deadline time.Time) {
	for (b.inflight.Load() > 0 || b.counting.Load() > 0) && time.Now().Before(deadline) {
		time.Sleep(flushPoll)
	}
}

// stop counts every line still on its way as dropped at shutdown, and drops every line
// from now on as it arrives.
func (b *backlog) stop() {
	left := b.inflight.Swap(stoppedBit)
	droppedShutdown.Add(uint64(left))
	// A resolve that took its line off inflight before the swap counts it in a moment;
	// the ones after it return at once. Metrics read after stop are final.
	for b.counting.Load() > 0 {
		runtime.Gosched()
	}
}
