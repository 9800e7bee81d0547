// Package k8s_event is a CoreDNS plugin that reports CoreDNS log lines as Kubernetes
// Events on the CoreDNS Pod.
package k8s_event

import (
	"fmt"
	"strings"
	"sync"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"k8s.io/client-go/kubernetes"
)

// process holds the process's one pipeline, created by the first setup of the plugin and
// kept until the final shutdown, so that every log line of the process is reported at
// most once, from start-up to exit, however many server blocks and reloads there are.
var process struct {
	sync.Mutex
	p *pipeline
}

// processPipeline returns the process's pipeline, starting it on first use. Its listener
// is registered then, in setup: it reports nothing until settings are in effect (see
// firstStartup and start).
func processPipeline() *pipeline {
	process.Lock()
	defer process.Unlock()
	if process.p == nil {
		process.p = newPipeline(defaultOptions())
	}
	return process.p
}

// instance is k8s_event in one caddy instance (one configuration): the settings its
// server blocks share.
type instance struct {
	p          *pipeline
	cfg        *config
	blocks     []*dnsserver.Config
	blockNames []string // as in error messages, in the order of blocks

	mu       sync.Mutex
	settings *settings // put in effect by start
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
		c.OnFirstStartup(in.firstStartup)
		c.OnStartup(in.start)
		c.OnShutdown(in.shutdown)
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
// A reload's settings take effect in start, once the reload got that far: a reload that
// fails before leaves the running configuration's in effect.
func (in *instance) firstStartup() error {
	in.p.use(in.p.settingsFor(in.cfg, nil))
	return nil
}

// start runs on startup and after a reload, before the previous instance shuts down:
// the new settings and client replace the old in one atomic store.
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
	if size := in.p.cacheSize.Load(); size != 0 && size != int64(in.cfg.cacheSize) {
		log.Warningf("CACHESIZE %d takes effect when CoreDNS restarts; until then the event correlator keeps %d entries",
			in.cfg.cacheSize, size)
	}
	s := in.p.settingsFor(in.cfg, client)
	in.mu.Lock()
	in.settings = s
	in.mu.Unlock()
	in.p.use(s)
	return nil
}

// shutdown runs when the instance stops: on a reload, after the new one started. If the
// new configuration has no k8s_event, reporting stops here. When the process exits, the
// settings stay until the final shutdown (see exiting).
func (in *instance) shutdown() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.settings != nil && !exiting.Load() {
		in.p.settings.CompareAndSwap(in.settings, nil)
	}
	return nil
}

// restartFailed runs on the running instance when a reload fails. If it still serves
// (the reload failed before the new instance could serve), its settings and client are
// put back. If it does not (the reload failed in one of its shutdown callbacks, after
// caddy stopped it), it ends as its own shutdown would have: the new instance's settings
// stay, and if the new configuration has no k8s_event, reporting stops.
func (in *instance) restartFailed() error {
	if !in.serving() {
		return in.shutdown()
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.settings != nil {
		in.p.use(in.settings)
	}
	return nil
}

// serving reports whether the caddy instance of in serves: caddy takes an instance out
// of its list when it stops it, which a reload does once the new instance serves, and
// takes a new instance out when it fails to start.
func (in *instance) serving() bool {
	for _, ci := range caddy.Instances() {
		ci.StorageMu.RLock()
		mine := ci.Storage[instanceKey{}] == in
		ci.StorageMu.RUnlock()
		if mine {
			return true
		}
	}
	return false
}

// finalShutdown gives what is on its way its bounded chance before the process exits.
func (in *instance) finalShutdown() error {
	in.p.stop()
	return nil
}
