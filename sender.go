package k8s_event

import "sync/atomic"

// sender records the lines of the backlog, in order, into client-go's event broadcaster,
// whose correlator hands them to the sink: one goroutine (run) for the life of the
// process.
type sender struct {
	backlog   *backlog
	ref       *podReference
	cacheSize atomic.Int64   // CACHESIZE of the first settings used, for the life of the process
	recorder  *eventRecorder // set before run starts (pipeline.start)

	stopping chan struct{}
	done     chan struct{}
}

func newSender(b *backlog, ref *podReference) *sender {
	return &sender{backlog: b, ref: ref, stopping: make(chan struct{}), done: make(chan struct{})}
}

// run records every line of the backlog, in order, until stop.
func (s *sender) run() {
	defer close(s.done)
	for {
		select {
		case ln := <-s.backlog.queue:
			s.recorder.record(s.ref.load(), ln)
		case <-s.stopping:
			return
		}
	}
}

// stop ends run, what it left in the queue counted by the backlog's stop, and the
// broadcaster.
func (s *sender) stop() {
	close(s.stopping)
	<-s.done
	s.recorder.shutdown()
}
