package k8s_event

import (
	"sync"
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
// outage too, and its bound is what keeps the memory bounded. Only the lines the token
// buckets admitted reach it: a refused line never takes its mutex, and it is never
// busy for long.
type backlog struct {
	queue chan line // admitted lines the sender has not recorded yet

	mu      sync.Mutex
	held    int64         // admitted lines not yet resolved
	stopped bool          // set by stop, which counted the lines held then: later ones are dropped as they come
	emptied chan struct{} // made by a wait while lines are held, closed when none is left
}

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
	case b.queue <- ln: // never full: the channel holds maxBacklog, and held counts it
	default:
		b.resolve("", dropQueueFull)
	}
}

// take counts an admitted line on its way, unless the backlog already holds limit lines
// or it stopped: then it counts the line dropped and returns false.
func (b *backlog) take(limit int64) bool {
	b.mu.Lock()
	stopped, full := b.stopped, b.held >= limit
	if !stopped && !full {
		b.held++
	}
	b.mu.Unlock()
	switch {
	case stopped:
		droppedShutdown.Inc()
	case full:
		droppedQueueFull.Inc()
	default:
		return true
	}
	return false
}

// resolve takes an admitted line off the backlog and counts it, by its drop reason or its
// outcome, unless stop already counted it. It counts with the mutex held: once the line
// is off the backlog, wait and stop see it counted.
func (b *backlog) resolve(outcome, reason string) {
	var counter func()
	if reason != "" {
		counter = droppedCount.WithLabelValues(reason).Inc
	} else {
		counter = reportedCount.WithLabelValues(outcome).Inc
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		return
	}
	b.held--
	counter()
	if b.held == 0 && b.emptied != nil {
		close(b.emptied)
		b.emptied = nil
	}
}

// pending returns how many admitted lines are not resolved yet.
func (b *backlog) pending() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held
}

// wait waits until every admitted line is resolved and counted, or deadline.
func (b *backlog) wait(deadline time.Time) {
	b.mu.Lock()
	if b.held == 0 {
		b.mu.Unlock()
		return
	}
	if b.emptied == nil {
		b.emptied = make(chan struct{})
	}
	emptied := b.emptied
	b.mu.Unlock()

	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-emptied:
	case <-timer.C:
	}
}

// stop counts every line still on its way as dropped at shutdown, and drops every line
// from now on as it arrives. Metrics read after stop are final.
func (b *backlog) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		return
	}
	droppedShutdown.Add(uint64(b.held))
	b.held, b.stopped = 0, true
	if b.emptied != nil {
		close(b.emptied)
		b.emptied = nil
	}
}
