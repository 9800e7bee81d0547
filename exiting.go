package k8s_event

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/coredns/caddy"
)

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
			in.started()
		}
	}
	return nil
}
