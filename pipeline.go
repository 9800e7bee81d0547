package k8s_event

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	clog "github.com/coredns/coredns/plugin/pkg/log"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
)

// process holds the process's one pipeline, created by the first setup of the plugin and
// kept until the final shutdown, so that every log line of the process is reported at
// most once, from start-up to exit, however many server blocks and reloads there are.
var process struct {
	sync.Mutex
	p *pipeline
}

// processPipeline returns the process's pipeline, making it on first use, in setup. It
// starts (its goroutines, its listener registered) when the first settings take effect,
// as the first configuration with k8s_event starts (see use).
func processPipeline() *pipeline {
	process.Lock()
	defer process.Unlock()
	if process.p == nil {
		process.p = newPipeline(defaultOptions())
	}
	return process.p
}

// pipeline takes log lines from the process's one log listener to the Events API, for
// the life of the process. Configurations come and go (reloads); they swap the settings
// the listener reads and the client the sink writes through, nothing else.
//
// A line the listener admits enters a bounded backlog; the sender records it at once
// through client-go's recorder (which stamps it with the time it was logged) into the
// broadcaster and correlator, whose single watcher hands events to the sink one at a
// time, in order. The sink retries transient failures for up to maxAge after the line
// was logged. Every admitted line leaves the backlog through its resolve, counted once.
type pipeline struct {
	opts     options
	listener *listener              // holds the settings in effect
	next     atomic.Pointer[config] // a reload's, until caddy says its instance started
	joins    atomic.Uint64          // instances with k8s_event set up so far (instance.seq)
	client   *clientSlot
	ref      *podReference
	backlog  *backlog
	sender   *sender
	retrier  *retrier // the sink's

	ctx       context.Context    // the parts', with the plugin's logger
	cancel    context.CancelFunc // ends the waits and API calls of every part, at the end of stop
	sink      *eventSink
	startOnce sync.Once
	running   bool // start ran; read after startOnce
	stopOnce  sync.Once
}

// newPipeline makes a pipeline: no goroutine runs and no listener is registered before
// the first settings are used (start). Nothing is written before a client is set.
func newPipeline(opts options) *pipeline {
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), opts.log.logger()))
	p := &pipeline{
		opts:    opts,
		client:  newClientSlot(),
		backlog: newBacklog(),
		ctx:     ctx,
		cancel:  cancel,
	}
	p.ref = newPodReference(opts.identity, p.client, opts.clock, opts.apiTimeout, opts.lookupRetry, opts.log)
	p.retrier = &retrier{
		ctx:        ctx,
		clock:      opts.clock,
		maxAge:     opts.maxAge,
		apiTimeout: opts.apiTimeout,
		backoff:    opts.retry,
		client:     p.client,
		ref:        p.ref,
		log:        opts.log,
	}
	p.listener = &listener{backlog: p.backlog, fatal: &fatalWriter{
		ctx:      ctx,
		timeout:  opts.fatalTimeout,
		retrier:  p.retrier,
		ref:      p.ref,
		nodeName: opts.identity.nodeName,
		log:      opts.log,
	}}
	p.sink = &eventSink{retrier: p.retrier, backlog: p.backlog}
	p.sender = newSender(p.backlog, p.ref)
	return p
}

// start starts the pipeline, once, for settings of CACHESIZE cacheSize, which then holds
// for the life of the process: the recorder with its correlator, the sender, the Pod UID
// lookup, and the listener's registration, replacing any listener of an earlier pipeline.
func (p *pipeline) start(cacheSize int) {
	p.startOnce.Do(func() {
		p.running = true
		p.sender.cacheSize.Store(int64(cacheSize))
		p.sender.recorder = newEventRecorder(p.ctx, cacheSize, p.opts.clock, p.opts.identity.nodeName, p.opts.log, p.sink)
		go p.sender.run()
		go p.ref.lookup(p.ctx)
		clog.RegisterListener(p.listener)
	})
}

// settingsFor returns the settings in effect of cfg, writing through client (see
// config.running).
func (p *pipeline) settingsFor(cfg *config, client kubernetes.Interface) *config {
	return cfg.running(p.listener.settings.Load(), p.opts.clock, client)
}

// use makes s the settings in effect, and its client, if it has one, the one to write
// through. The first settings used start the pipeline, and fix CACHESIZE.
func (p *pipeline) use(s *config) {
	p.start(s.cacheSize)
	p.listener.settings.Store(s)
	if s.client != nil {
		p.client.store(s.client)
	}
}

// useNext puts a reload's settings (next) in effect, if there are any, and reports
// whether there were.
func (p *pipeline) useNext() bool {
	next := p.next.Swap(nil)
	if next != nil {
		p.use(next)
	}
	return next != nil
}

// stop ends the pipeline at the process's final shutdown: nothing more is admitted, and
// what is on its way gets flushTimeout to be written; the rest is dropped and counted.
// The sender records until then: a line a log call admits as the shutdown begins (it
// read the settings just before) is written like the others, and the wait ends as soon
// as nothing is left. The listener is deregistered first. A pipeline that never started
// has nothing to stop, and does not start after.
func (p *pipeline) stop() {
	p.stopOnce.Do(func() {
		p.startOnce.Do(func() {})
		if !p.running {
			p.cancel()
			return
		}
		clog.DeregisterListener(p.listener)
		p.listener.settings.Store(nil)
		p.backlog.wait(time.Now().Add(p.opts.flushTimeout))
		p.cancel() // calls still running end now, and count themselves
		p.backlog.wait(time.Now().Add(100 * time.Millisecond))

		p.backlog.stop()
		p.sender.stop()
	})
}
