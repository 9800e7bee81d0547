package k8s_event

import "sync/atomic"

// sender records the lines of the backlog, in order, into client-go's event broadcaster,
// whose correlator hands them to the sink: one goroutine (run) for the life of the
// process.
type sender struct {
	backlog   *backlog
	ref       *podReference
	cacheSize atomic.Int64 // CACHESIZE of the first settings used, for the life of the process
	// newRecorder makes the recorder when the first line comes: CACHESIZE is known then.
	newRecorder func(cacheSize int) *eventRecorder
	recorder    *eventRecorder // owned by run's goroutine

	stopping chan struct{}
	done     chan struct{}
}

func newSender(b *backlog, ref *podReference, newRecorder func(cacheSize int) *eventRecorder) *sender {
	return &sender{backlog: b, ref: ref, newRecorder: newRecorder, stopping: make(chan struct{}), done: make(chan struct{})}
}

// run records every line of the backlog, in order, until stop.
func (s *sender) run() {
	defer close(s.done)
	for {
		select {
		case ln := <-s.backlog.queue:
			s.record(ln)
		case <-s.stopping:
			return
		}
	}
}

// record records ln, making the recorder first if ln is the first line.
func (s *sender) record(ln line) {
	if s.recorder == nil {
		s.recorder = s.newRecorder(int(s.cacheSize.Load()))
	}
	s.recorder.record(s.ref.load(), ln)
}

// stop ends run, what it left in the queue counted by the backlog's stop, and the
// broadcaster.
func (s *sender) stop() {
	close(s.stopping)
	<-s.done
	if s.recorder != nil {
		s.recorder.shutdown()
	}
}
