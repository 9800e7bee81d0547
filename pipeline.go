package k8s_event

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	clog "github.com/coredns/coredns/plugin/pkg/log"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
)

// pipeline takes log lines from the process's one log listener to the Events API, for
// the life of the process. Configurations come and go (reloads); they swap the settings
// the listener reads and the client the sink writes through, nothing else.
//
// A line the listener admits enters a bounded backlog; the sender records it at once
// through client-go's recorder (which stamps it with the time it was logged) into the
// broadcaster and correlator, whose single watcher hands events to the sink one at a
// time, in order. The sink retries transient failures for up to maxAge after the line
// was logged. Every admitted line leaves the backlog through resolve, counted once.
type pipeline struct {
	opts      options
	listener  *listener
	settings  atomic.Pointer[settings] // what is reported now; nil for nothing
	client    atomic.Pointer[apiClient]
	hasClient chan struct{} // closed when the first client is set

	queue    chan line
	inflight atomic.Int64 // admitted lines not yet resolved: the backlog
	quiet    quietPeriod  // the API server's latest Retry-After

	ref         atomic.Pointer[corev1.ObjectReference]
	refDone     chan struct{} // closed when ref is final
	firstLookup chan struct{} // closed when the UID lookup was tried once, or is not needed

	ctx    context.Context // carries the plugin's logger; canceled at the end of stop
	cancel context.CancelFunc

	chain    *chain // owned by the sender goroutine
	retiring sync.WaitGroup

	stopping   chan struct{}
	senderDone chan struct{}
	stopOnce   sync.Once

	mu         sync.Mutex // orders resolve against the final count of stop; guards:
	closed     bool
	configured bool      // the first configuration's settings were applied
	throttle   *throttle // of the last settings used, kept across a removal of the plugin
}

type apiClient struct{ kubernetes.Interface }

// newPipeline starts a pipeline and registers its listener, replacing any listener of
// an earlier pipeline. Nothing is reported until settings are applied, and nothing is
// written before a client is set.
func newPipeline(opts options) *pipeline {
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), opts.log.logger()))
	p := &pipeline{
		opts:        opts,
		hasClient:   make(chan struct{}),
		queue:       make(chan line, maxBacklog),
		refDone:     make(chan struct{}),
		firstLookup: make(chan struct{}),
		ctx:         ctx,
		cancel:      cancel,
		stopping:    make(chan struct{}),
		senderDone:  make(chan struct{}),
	}
	p.ref.Store(opts.identity.reference())
	p.listener = &listener{p: p}
	go p.send()
	go p.completeReference()
	clog.RegisterListener(p.listener)
	return p
}

// use makes s the settings in effect, and its client, if it has one, the one to write
// through.
func (p *pipeline) use(s *settings) {
	p.settings.Store(s)
	p.mu.Lock()
	p.throttle = s.throttle
	p.mu.Unlock()
	if s.client == nil {
		return
	}
	if p.client.Swap(&apiClient{s.client}) == nil {
		close(p.hasClient)
	}
}

// lastThrottle returns the token buckets of the last settings used.
func (p *pipeline) lastThrottle() *throttle {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.throttle
}

// waitClient returns the client to write through, waiting for the first one until
// deadline.
func (p *pipeline) waitClient(deadline time.Time) (kubernetes.Interface, error) {
	if c := p.client.Load(); c != nil {
		return c.Interface, nil
	}
	select {
	case <-p.hasClient:
		return p.client.Load().Interface, nil
	case <-p.ctx.Done():
		return nil, p.ctx.Err()
	case <-p.opts.clock.After(deadline.Sub(p.opts.clock.Now())):
		return nil, errNoClient
	}
}

// send records every line of the backlog, in order, until stop.
func (p *pipeline) send() {
	defer close(p.senderDone)
	for {
		select {
		case ln := <-p.queue:
			p.record(ln)
		case <-p.stopping:
			for {
				select {
				case ln := <-p.queue:
					p.record(ln)
				default:
					return
				}
			}
		}
	}
}

func (p *pipeline) record(ln line) {
	size := defaultCacheSize
	if s := p.settings.Load(); s != nil {
		size = s.cfg.cacheSize
	} else if p.chain != nil {
		size = p.chain.cacheSize
	}
	if p.chain == nil || p.chain.cacheSize != size {
		p.switchChain(size)
	}
	p.chain.pending.Add(1)
	// The message is formatted already: it goes in as an argument, never as a format.
	p.chain.recorder.AnnotatedEventf(p.ref.Load(), annotations(pluginOf(ln.prefix)),
		ln.level.eventType(), ln.level.reason(), "%s", ln.message)
}

// switchChain starts a correlator of the new size; the old one finishes what it holds.
func (p *pipeline) switchChain(cacheSize int) {
	old := p.chain
	p.chain = newChain(p, cacheSize)
	if old == nil {
		return
	}
	p.retiring.Go(func() {
		for old.pending.Load() > 0 && p.ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
		}
		old.broadcaster.Shutdown()
	})
}

// resolve counts the end of an admitted line's way: a drop reason, or an outcome.
func (p *pipeline) resolve(outcome, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return // counted by stop
	}
	p.inflight.Add(-1)
	countEnd(outcome, reason)
}

func countEnd(outcome, reason string) {
	if reason != "" {
		droppedCount.WithLabelValues(reason).Inc()
		return
	}
	reportedCount.WithLabelValues(outcome).Inc()
}

// stop ends the pipeline at the process's final shutdown: nothing more is admitted, and
// what is on its way gets flushTimeout to be written; the rest is dropped and counted.
func (p *pipeline) stop() {
	p.stopOnce.Do(func() {
		p.settings.Store(nil)
		deadline := time.Now().Add(p.opts.flushTimeout)
		close(p.stopping)
		<-p.senderDone // never long: recording does not wait for the API
		p.waitBacklog(deadline)
		p.cancel() // calls still running end now, and count themselves
		p.waitBacklog(time.Now().Add(100 * time.Millisecond))

		p.mu.Lock()
		p.closed = true
		left := p.inflight.Swap(0)
		p.mu.Unlock()
		droppedCount.WithLabelValues(dropShutdown).Add(uint64(left))

		if p.chain != nil {
			p.chain.broadcaster.Shutdown()
		}
		p.retiring.Wait()
	})
}

// flushPoll is how often stop checks whether the backlog is written.
const flushPoll = 5 * time.Millisecond

// waitBacklog waits until every admitted line is resolved, or deadline.
func (p *pipeline) waitBacklog(deadline time.Time) {
	for p.inflight.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(flushPoll)
	}
}
