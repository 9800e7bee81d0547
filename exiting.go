package k8s_event

import (
	"sync/atomic"

	"github.com/coredns/caddy"
)

// exiting is set when the process begins its final shutdown (SIGTERM, SIGINT): caddy
// then runs every instance's OnShutdown callbacks, and only after them the OnFinalShutdown
// ones, among which the *health* plugin's lame duck, during which CoreDNS still serves and
// logs. So an instance's shutdown must not stop the reporting then: the final shutdown
// does, once the lame duck is over.
var exiting atomic.Bool

func init() {
	caddy.RegisterEventHook(pluginName, func(ev caddy.EventName, _ interface{}) error {
		if ev == caddy.ShutdownEvent {
			exiting.Store(true)
		}
		return nil
	})
}
