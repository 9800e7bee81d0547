// Package k8s_event is a CoreDNS plugin that reports CoreDNS log lines as Kubernetes
// Events on the CoreDNS Pod.
package k8s_event

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"k8s.io/client-go/kubernetes"
)

// instance is k8s_event in one caddy instance (one configuration): the settings its
// server blocks share.
type instance struct {
	p          *pipeline
	cfg        *config
	blocks     []*dnsserver.Config
	blockNames []string // as in error messages, in the order of blocks

	first    bool // started with the process (firstStartup ran)
	mu       sync.Mutex
	settings *config         // cfg in effect form, made by start
	stopped  bool            // shutdown ran on a reload: the new instance serves
	caddy    *caddy.Instance // the caddy instance, once caddy says it started

	shutdownFirst sync.Once // see restart

	seq       uint64       // pipeline.joins when this instance was set up
	reloading atomic.Int32 // reloads of this instance under way (see finalShutdown)
}

type instanceKey struct{}

// join adds a server block's k8s_event to its caddy instance; the first one registers the
// instance's lifecycle callbacks.
func join(c *caddy.Controller, cfg *config) error {
	block := strings.Join(c.ServerBlockKeys, " ")
	in, _ := c.Get(instanceKey{}).(*instance)
	if in == nil {
		in = &instance{p: processPipeline(), cfg: cfg}
		c.Set(instanceKey{}, in)
		in.seq = in.p.joins.Add(1)
		watchEvents()
		c.OnFirstStartup(in.firstStartup)
		c.OnStartup(in.start)
		c.OnShutdown(in.shutdown)
		c.OnRestart(in.restart)
		c.OnRestartFailed(in.restartFailed)
		c.OnFinalShutdown(in.finalShutdown)
	} else if !in.cfg.equal(cfg) {
		return fmt.Errorf("server blocks %q and %q configure k8s_event differently (%s, and %s): "+
			"it reports the lines of the whole process, so give it the same settings everywhere",
			in.blockNames[0], block, in.cfg, cfg)
	}
	in.blocks = append(in.blocks, dnsserver.GetConfig(c))
	in.blockNames = append(in.blockNames, block)
	return nil
}

// firstStartup puts the settings in effect when CoreDNS starts, before any plugin's
// OnStartup (caddy runs every OnFirstStartup callback first), so that the start-up lines
// of every plugin are reported: they wait in the backlog until kubeapi's client exists.
// Should this start fail, CoreDNS exits, its last line reported.
func (in *instance) firstStartup() error {
	in.first = true
	in.p.use(in.p.settingsFor(in.cfg, nil))
	return nil
}

// start runs on startup and on a reload, before the instance serves. On startup its
// settings and client take effect at once. A reload's wait until caddy says the new
// instance started: it shuts the running instance down (shutdown), or, if that one has
// no k8s_event, tells the event hook (started). A reload that fails before leaves the
// running configuration's in effect, and nothing of its own: no line selected, no client,
// no CACHESIZE.
func (in *instance) start() error {
	var client kubernetes.Interface
	for i, b := range in.blocks {
		cl, err := in.p.opts.clientFor(b)
		if err != nil {
			return fmt.Errorf("plugin/%s: server block %q has k8s_event but no kubeapi: add kubeapi to it, "+
				"it provides the connection to the Kubernetes API (%v)", pluginName, in.blockNames[i], err)
		}
		if client == nil {
			client = cl
		}
	}
	if size := in.p.sender.cacheSize.Load(); size != 0 && size != int64(in.cfg.cacheSize) {
		log.Warningf("CACHESIZE %d takes effect when CoreDNS restarts; until then the event correlator keeps %d entries",
			in.cfg.cacheSize, size)
	}
	s := in.p.settingsFor(in.cfg, client)
	in.mu.Lock()
	in.settings = s
	in.mu.Unlock()
	if in.first {
		in.p.use(s)
	} else {
		in.p.next.Store(s)
	}
	return nil
}

// started puts the settings of in in effect: caddy says ci, the caddy instance of in,
// serves.
func (in *instance) started(ci *caddy.Instance) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.caddy = ci
	if in.settings == nil || exiting.Load() {
		return
	}
	in.p.next.CompareAndSwap(in.settings, nil)
	in.p.use(in.settings)
}

// shutdown runs when the instance stops: on a reload, once the new one started, whose
// settings then take effect; if it has no k8s_event, reporting stops here. When the
// process exits, the settings stay until the final shutdown (see exiting). It runs once
// in a reload (see restart).
func (in *instance) shutdown() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.settings == nil || in.stopped || exiting.Load() {
		return nil
	}
	in.stopped = true
	if !in.p.useNext() {
		in.p.listener.settings.CompareAndSwap(in.settings, nil)
	}
	return nil
}

// restart runs on the running instance when a reload begins. It makes shutdown the
// instance's first shutdown callback, so that it runs as soon as caddy has stopped the
// instance's servers: caddy stops running them at the first that fails, and then calls
// restartFailed although the new instance serves. So restartFailed knows which one
// serves from stopped alone, without caddy's instance list. Only an instance caddy
// announced (started) is known; caddy runs these callbacks on the goroutine that
// reloads, before it reads the shutdown callbacks, and shutdownFirst orders two
// reloads of one instance at once.
func (in *instance) restart() error {
	in.reloading.Add(1)
	in.mu.Lock()
	ci := in.caddy
	in.mu.Unlock()
	if ci != nil {
		in.shutdownFirst.Do(func() {
			ci.OnShutdown = append([]func() error{in.shutdown}, ci.OnShutdown...)
		})
	}
	return nil
}

// restartFailed runs on the running instance when a reload fails. If it was not
// stopped, it still serves (the reload failed before the new instance could serve): the
// new settings, which wait for the new instance to start, never take effect. If it was
// (the reload failed in a shutdown callback, after caddy stopped it), its shutdown has
// put the new instance's settings in effect already, or stopped the reporting if the
// new configuration has no k8s_event.
func (in *instance) restartFailed() error {
	in.reloading.Add(-1)
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.stopped {
		in.p.next.Store(nil)
	}
	return nil
}

// finalShutdown stops the process's pipeline: lines on their way get a bounded time to
// be written before the process exits. Unless a reload is replacing the instance with one
// that has k8s_event too: when the process exits during a reload, caddy runs the shutdown
// callbacks of the instance being replaced first, then those of the new one, which is in
// caddy's list from the start of its setup, and whose lame duck (health's) comes only
// then; the reload may not have started the new one's k8s_event yet. The reporting then
// goes on, with the new instance's settings if it has them in effect form already (as
// the reload would have put them), until the new one's final shutdown stops the pipeline.
func (in *instance) finalShutdown() error {
	if in.reloading.Load() > 0 && in.p.joins.Load() > in.seq {
		in.p.useNext()
		return nil
	}
	in.p.stop()
	return nil
}

// exiting is set when the process begins its final shutdown (SIGTERM, SIGINT): caddy
// then runs every instance's OnShutdown callbacks, and only after them the OnFinalShutdown
// ones, among which the *health* plugin's lame duck, during which CoreDNS still serves and
// logs. So an instance's shutdown must not stop the reporting then: the final shutdown
// does, once the lame duck is over.
var exiting atomic.Bool

// hookMu makes watchEvents's look-up and registration one step.
var hookMu sync.Mutex

// watchEvents registers the plugin's caddy event hook (onEvent) unless caddy has it. It
// runs in every setup of a configuration: caddy's SIGUSR1 reload removes every event hook
// before it starts the new configuration, and puts them back only if that fails, so a
// hook registered once, at init, is gone after the first such reload (the reload plugin's
// reloads keep them).
func watchEvents() {
	hookMu.Lock()
	defer hookMu.Unlock()
	if !slices.Contains(caddy.ListPlugins()["event_hooks"], pluginName) {
		caddy.RegisterEventHook(pluginName, onEvent)
	}
}

// onEvent notes the start of the final shutdown, and puts the settings of an instance
// caddy says started in effect (see start).
func onEvent(ev caddy.EventName, info any) error {
	switch ev {
	case caddy.ShutdownEvent:
		exiting.Store(true)
	case caddy.InstanceStartupEvent:
		ci, ok := info.(*caddy.Instance)
		if !ok {
			return nil
		}
		ci.StorageMu.RLock()
		in, _ := ci.Storage[instanceKey{}].(*instance)
		ci.StorageMu.RUnlock()
		if in != nil {
			in.started(ci)
		}
	}
	return nil
}
