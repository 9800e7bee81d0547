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

// process is the reporter whose listener is registered: exactly one per process, so
// that every log line becomes at most one event however many server blocks or
// reloads there are.
var process struct {
	sync.Mutex
	active   *reporter
	stopping sync.WaitGroup // reporters still writing their queued events
}

// retire stops r in the background; finalShutdown waits for every retired reporter.
func retire(r *reporter) {
	process.stopping.Go(func() { <-r.stop() })
}

// activate registers r's listener in place of the active one. The log package swaps it
// under its own lock, so no line goes to both and none is missed.
func activate(r *reporter) (previous *reporter) {
	process.Lock()
	defer process.Unlock()
	previous = process.active
	clog.RegisterListener(r.listener)
	process.active = r
	return previous
}

// deactivate deregisters r's listener if it is the active one.
func deactivate(r *reporter) {
	process.Lock()
	defer process.Unlock()
	if process.active == r {
		clog.DeregisterListener(r.listener)
		process.active = nil
	}
}

func activeReporter() *reporter {
	process.Lock()
	defer process.Unlock()
	return process.active
}

// instance is k8s_event in one caddy instance: the settings its server blocks share and
// the reporter it starts.
type instance struct {
	cfg        *config
	blocks     []*dnsserver.Config
	blockNames []string // as in error messages, in the order of blocks
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
func (in *instance) start() error {
	var client kubernetes.Interface
	for i, b := range in.blocks {
		cl, err := kubeClient(b)
		if err != nil {
			return fmt.Errorf("plugin/%s: server block %q has k8s_event but no kubeapi: add kubeapi to it, "+
				"it provides the connection to the Kubernetes API (%v)", pluginName, in.blockNames[i], err)
		}
		if client == nil {
			client = cl
		}
	}
	in.rep = newReporter(in.cfg, client, identityFromEnv(), activeReporter(), reporterTiming)
	activate(in.rep)
	return nil
}

// shutdown runs when the instance stops, on reload after the new one started. It does
// not wait for queued events: finalShutdown does, when the process ends.
func (in *instance) shutdown() error {
	if in.rep != nil {
		deactivate(in.rep)
		retire(in.rep)
	}
	return nil
}

// restartFailed runs on the instance that keeps running when a reload fails. If the
// failed instance got as far as activating its reporter, this one takes over again and
// stops the orphan, which nothing else would.
func (in *instance) restartFailed() error {
	if in.rep == nil {
		return nil
	}
	if orphan := activate(in.rep); orphan != nil && orphan != in.rep {
		retire(orphan)
	}
	return nil
}

// finalShutdown gives queued events their bounded chance before the process exits,
// those of reporters retired by recent reloads included.
func (in *instance) finalShutdown() error {
	process.stopping.Wait()
	return nil
}
