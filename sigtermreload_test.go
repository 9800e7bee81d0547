package k8s_event

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin"
)

// holdStart, while a test sets it, holds a starting configuration in its OnStartup: it
// says so on the first channel and waits for the second to close.
var holdStart atomic.Pointer[[2]chan struct{}]

func init() {
	plugin.Register("holdstart", func(c *caddy.Controller) error {
		c.OnStartup(func() error {
			if h := holdStart.Swap(nil); h != nil {
				close(h[0])
				<-h[1]
			}
			return nil
		})
		return nil
	})
}

// lameDuckLine is the line the lameduck test plugin logs in its final shutdown.
const lameDuckLine = "plugin/lameduck: 2 example.org. A: a query during the lame duck"

// SIGTERM during a reload: caddy's list then holds the configuration being replaced and,
// after it, the new one, and the signal runs the shutdown callbacks of both, in that
// order. The one being replaced has no lame duck of its own (health's reload stops it);
// the new one's lame duck comes after the old one's final shutdown. A line logged during
// it is reported: the old configuration's final shutdown must not end the reporting.
// The signal may come before the reload has started the new configuration's k8s_event,
// or after. (Seen on a node: kubectl rollout restart right after a Corefile change, on
// CoreDNS 1.14, whose reloads last seconds while forward retries the queries in flight.)
//
// Once the new configuration's k8s_event started, its settings take effect, as the
// reload would have put them: the old one here reports fatal lines only, the new one
// errors too.
func TestLineLoggedDuringTheLameDuckOfASIGTERMDuringAReloadIsReported(t *testing.T) {
	withK8sEvent := func(stanza string) string {
		return strings.Replace(corefile(stanza), stanza, stanza+"\n  lameduck\n  holdstart", 1)
	}
	for _, c := range []struct {
		name  string
		order []string
		from  string
	}{
		{"new k8s_event started", []string{"lameduck", "kubeapi", pluginName, "holdstart"}, withK8sEvent("k8s_event {\n level fatal\n }")},
		{"new k8s_event not started yet", []string{"lameduck", "kubeapi", "holdstart", pluginName}, withK8sEvent("k8s_event")},
	} {
		t.Run(c.name, func(t *testing.T) {
			withDirectives(t, c.order...)
			client := fakeAPI(t, true)
			afterOld := sigtermDuringReload(t, c.from, withK8sEvent("k8s_event"))
			if !afterOld {
				t.Error("the old configuration's final shutdown ended the reporting before the new one's lame duck")
			}
			evs := events(t, client, testNS)
			if n, _ := countMessage(evs, lameDuckLine); n != 1 {
				t.Errorf("the line logged during the new configuration's lame duck was not reported: %s", describe(evs))
			}
			if reporting() {
				t.Error("after every final shutdown the pipeline still reports")
			}
		})
	}
}

// When the new configuration has no k8s_event, the one being replaced ends the reporting
// at its final shutdown, with the final flush: nothing after it would.
func TestSIGTERMDuringAReloadThatDropsThePluginEndsTheReporting(t *testing.T) {
	withDirectives(t, "lameduck", "kubeapi", pluginName, "holdstart")
	client := fakeAPI(t, true)
	old := strings.Replace(corefile("k8s_event"), "k8s_event", "k8s_event\n  lameduck\n  holdstart", 1)
	if afterOld := sigtermDuringReload(t, old, corefile("lameduck\n  holdstart")); afterOld {
		t.Error("the reporting went on after the final shutdown of the only configuration with k8s_event")
	}
	if evs := events(t, client, testNS); len(evs) != 0 {
		t.Errorf("the new configuration has no k8s_event, yet its lame duck was reported: %s", describe(evs))
	}
}

// sigtermDuringReload starts CoreDNS with from, reloads it to to, held in the new
// configuration's holdstart, and then does what caddy's SIGTERM handler does: the
// shutdown event, then the shutdown callbacks of every instance in caddy's list, in its
// order. It tells whether the pipeline still reported after the old configuration's.
func sigtermDuringReload(t *testing.T, from, to string) (afterOld bool) {
	t.Helper()
	old := startCoreDNS(t, from)
	if n := len(caddy.Instances()); n != 1 {
		stopInstance(t, old)
		t.Fatalf("%d caddy instances, want this test's only", n)
	}
	hold := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	holdStart.Store(&hold)
	t.Cleanup(func() { holdStart.Store(nil) })
	reloaded := make(chan *caddy.Instance, 1)
	go func() {
		next, err := old.Restart(input(to))
		if err != nil {
			t.Errorf("reload: %v", err)
		}
		reloaded <- next
	}()
	select {
	case <-hold[0]:
	case <-time.After(hangAfter):
		t.Fatal("the reload did not reach the new configuration's start")
	}
	defer func() {
		close(hold[1])
		if next := <-reloaded; next != nil { // the reload stopped old; on failure it is old
			stopInstance(t, next)
		}
	}()
	// The reload waits here, so nothing changes caddy's list meanwhile.
	instances := caddy.Instances()
	if len(instances) != 2 || instances[0] != old {
		t.Fatalf("caddy's list during the reload: %d instances, want the old one then the new one", len(instances))
	}
	caddy.EmitEvent(caddy.ShutdownEvent, "SIGTERM")
	t.Cleanup(func() { exiting.Store(false) })
	before := lameDuckRuns.Load()
	if errs := instances[0].ShutdownCallbacks(); len(errs) > 0 {
		t.Errorf("the old configuration's shutdown callbacks: %v", errs)
	}
	afterOld = reporting()
	if errs := instances[1].ShutdownCallbacks(); len(errs) > 0 {
		t.Errorf("the new configuration's shutdown callbacks: %v", errs)
	}
	if lameDuckRuns.Load() != before+1 {
		t.Errorf("the lame duck ran %d times, want once (the new configuration's)", lameDuckRuns.Load()-before)
	}
	return afterOld
}
