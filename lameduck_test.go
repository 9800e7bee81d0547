package k8s_event

import (
	"strings"
	"testing"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin"
	clog "github.com/coredns/coredns/plugin/pkg/log"
)

// lameduck is a test plugin that logs an error line in its OnFinalShutdown, as a query
// that fails while the *health* plugin's lame duck keeps CoreDNS serving after SIGTERM.
var lameDuckLog = clog.NewWithPlugin("lameduck")

func init() {
	plugin.Register("lameduck", func(c *caddy.Controller) error {
		c.OnFinalShutdown(func() error {
			lameDuckLog.Error("2 example.org. A: a query during the lame duck")
			return nil
		})
		return nil
	})
}

// On SIGTERM caddy runs every OnShutdown callback, k8s_event's included, before the
// OnFinalShutdown ones, of which health's lame duck is one: a line logged then is still
// reported, by the final shutdown's flush.
func TestLineLoggedDuringTheLameDuckIsReported(t *testing.T) {
	withDirectives(t, "lameduck", "kubeapi", pluginName)
	client := fakeAPI(t, true)
	inst := startCoreDNS(t, strings.Replace(corefile("k8s_event"), "k8s_event", "k8s_event\n  lameduck", 1))
	caddy.EmitEvent(caddy.ShutdownEvent, "SIGTERM")
	t.Cleanup(func() { exiting.Store(false) })
	evs := stopAndList(t, inst, client)
	inst.Stop()
	if n, _ := countMessage(evs, "plugin/lameduck: 2 example.org. A: a query during the lame duck"); n != 1 {
		t.Errorf("the line of the lame duck: %s", describe(evs))
	}
}
