package k8s_event

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	clog "github.com/coredns/coredns/plugin/pkg/log"
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
	next      atomic.Pointer[settings] // a reload's, until caddy says its instance started
	client    *clientSlot
	cacheSize atomic.Int64 // CACHESIZE of the first settings used, for the life of the process

	backlog *backlog
	retrier *retrier // the sink's

	ref *podReference

	ctx    context.Context // carries the plugin's logger; canceled at the end of stop
	cancel context.CancelFunc

	chain *chain // owned by the sender goroutine, made when it records its first line

	stopping   chan struct{}
	senderDone chan struct{}
	stopOnce   sync.Once
}

// newPipeline starts a pipeline and registers its listener, replacing any listener of
// an earlier pipeline. Nothing is reported until settings are applied, and nothing is
// written before a client is set.
func newPipeline(opts options) *pipeline {
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), opts.log.logger()))
	p := &pipeline{
		opts:       opts,
		client:     newClientSlot(),
		backlog:    newBacklog(),
		ctx:        ctx,
		cancel:     cancel,
		stopping:   make(chan struct{}),
		senderDone: make(chan struct{}),
	}
	p.ref = newPodReference(opts.identity, p.client, opts.clock, opts.apiTimeout, opts.lookupRetry, opts.log)
	p.retrier = &retrier{ctx: ctx, clock: opts.clock, maxAge: opts.maxAge, apiTimeout: opts.apiTimeout,
		backoff: opts.retry, client: p.client, ref: p.ref, log: opts.log}
	p.listener = &listener{backlog: p.backlog, fatal: &fatalWriter{ctx: ctx, timeout: opts.fatalTimeout, clock: opts.clock,
		client: p.client, ref: p.ref, nodeName: opts.identity.nodeName, log: opts.log}}
	go p.send()
	go p.ref.lookup(ctx)
	clog.RegisterListener(p.listener)
	return p
}

// use makes s the settings in effect, and its client, if it has one, the one to write
// through. The first settings used fix CACHESIZE for the life of the process.
func (p *pipeline) use(s *settings) {
	p.cacheSize.CompareAndSwap(0, int64(s.cfg.cacheSize))
	p.listener.settings.Store(s)
	if s.client != nil {
		p.client.store(s.client)
	}
}

// send records every line of the backlog, in order, until stop has counted what is left.
func (p *pipeline) send() {
	defer close(p.senderDone)
	for {
		select {
		case ln := <-p.backlog.queue:
			p.record(ln)
		case <-p.stopping:
			return
		}
	}
}

func (p *pipeline) record(ln line) {
	if p.chain == nil {
		p.chain = newChain(p, int(p.cacheSize.Load()))
	}
	// The message is formatted already: it goes in as an argument, never as a format.
	p.chain.recorder.AnnotatedEventf(p.ref.load(), annotations(pluginOf(ln.prefix)),
		ln.level.eventType(), ln.level.reason(), "%s", ln.message)
}

// stop ends the pipeline at the process's final shutdown: nothing more is admitted, and
// what is on its way gets flushTimeout to be written; the rest is dropped and counted.
// The sender records until then: a line a log call admits as the shutdown begins (it
// read the settings just before) is written like the others, and the wait ends as soon
// as nothing is left.
func (p *pipeline) stop() {
	p.stopOnce.Do(func() {
		p.listener.settings.Store(nil)
		p.backlog.wait(time.Now().Add(p.opts.flushTimeout))
		p.cancel() // calls still running end now, and count themselves
		p.backlog.wait(time.Now().Add(100 * time.Millisecond))

		p.backlog.stop()
		close(p.stopping)
		<-p.senderDone // what it left in the queue is counted in left
		if p.chain != nil {
			p.chain.broadcaster.Shutdown()
		}
	})
}
