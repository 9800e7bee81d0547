// Package k8s_event is a CoreDNS plugin that reports CoreDNS log lines as Kubernetes
// Events on the CoreDNS Pod.
package k8s_event

import (
	"fmt"
	"strings"
	"sync"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/coredns/kubeapi"
	"k8s.io/client-go/kubernetes"
)

// kubeClient returns the client the kubeapi plugin of a server block set up.
var kubeClient = func(cfg *dnsserver.Config) (kubernetes.Interface, error) { return kubeapi.Client(cfg) }

// reporterTiming is the timing of new reporters.
var reporterTiming = defaultTiming

// process holds the reporter whose listener is registered: exactly one per process, so
// that every log line becomes at most one event however many server blocks or reloads
// there are. owner is the caddy instance that runs it; a reload with unchanged settings
// hands the reporter to the new instance, so the correlator's state (the Count of
// repeated lines) carries over.
var process struct {
	sync.Mutex
	active   *reporter
	owner    *instance
	stopping sync.WaitGroup // reporters still writing their queued events
}

// retire stops r in the background; finalShutdown waits for every retired reporter.
func retire(r *reporter) {
	process.stopping.Go(func() { <-r.stop() })
}

// instance is k8s_event in one caddy instance: the settings its server blocks share and
// the reporter it starts.
type instance struct {
	cfg        *config
	blocks     []*dnsserver.Config
	blockNames []string // as in error messages, in the order of blocks
	client     kubernetes.Interface
	rep        *reporter
}

type instanceKey struct{}

// join adds a server block's k8s_event to its caddy instance; the first one registers the
// instance's lifecycle callbacks.
func join(c *caddy.Controller, cfg *config) error {
	block := strings.Join(c.ServerBlockKeys, " ")
	in, _ := c.Get(instanceKey{}).(*instance)
	if in == nil {
		in = &instance{cfg: cfg}
		c.Set(instanceKey{}, in)
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

// start runs on startup and after a reload, before the previous instance shuts down.
// The log package swaps listeners under its own lock, so no line goes to two reporters
// and none is missed.
func (in *instance) start() error {
	for i, b := range in.blocks {
		cl, err := kubeClient(b)
		if err != nil {
			return fmt.Errorf("plugin/%s: server block %q has k8s_event but no kubeapi: add kubeapi to it, "+
				"it provides the connection to the Kubernetes API (%v)", pluginName, in.blockNames[i], err)
		}
		if in.client == nil {
			in.client = cl
		}
	}
	id := identityFromEnv()
	process.Lock()
	defer process.Unlock()
	if prev := process.active; prev != nil && prev.reusableFor(in.cfg, id) {
		prev.useClient(in.client)
		in.rep, process.owner = prev, in
		return nil
	}
	in.rep = newReporter(in.cfg, in.client, id, process.active, reporterTiming)
	clog.RegisterListener(in.rep.listener)
	process.active, process.owner = in.rep, in
	return nil
}

// shutdown runs when the instance stops, on reload after the new one started. It does
// not wait for queued events: finalShutdown does, when the process ends.
func (in *instance) shutdown() error {
	process.Lock()
	defer process.Unlock()
	if in.rep == nil {
		return nil
	}
	if process.active == in.rep {
		if process.owner != in {
			return nil // the instance that replaced this one carries on with it
		}
		clog.DeregisterListener(in.rep.listener)
		process.active, process.owner = nil, nil
	}
	retire(in.rep)
	return nil
}

// restartFailed runs on the instance that keeps running when a reload fails. If the
// failed instance got as far as starting, this one takes its reporter back, or
// re-registers its own and stops the orphan, which nothing else would.
func (in *instance) restartFailed() error {
	process.Lock()
	defer process.Unlock()
	if in.rep == nil {
		return nil
	}
	if orphan := process.active; orphan != in.rep {
		clog.RegisterListener(in.rep.listener)
		if orphan != nil {
			retire(orphan)
		}
	}
	in.rep.useClient(in.client)
	process.active, process.owner = in.rep, in
	return nil
}

// finalShutdown gives queued events their bounded chance before the process exits,
// those of reporters retired by recent reloads included.
func (in *instance) finalShutdown() error {
	process.stopping.Wait()
	return nil
}
