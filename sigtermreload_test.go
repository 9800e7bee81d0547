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

// SIGTERM during a reload: caddy's list then holds the configuration being replaced and,
// after it, the new one, and the signal runs the shutdown callbacks of both, in that
// order. The one being replaced has no lame duck of its own (health's reload stops it);
// the new one's lame duck comes after the old one's final shutdown. A line logged during
// it is reported: the old configuration's final shutdown must not end the reporting.
// The signal may come before the reload has started the new configuration's k8s_event,
// or after. (Seen on a node: kubectl rollout restart right after a Corefile change, on
// CoreDNS 1.14, whose reloads last seconds while forward retries the queries in flight.)
func TestLineLoggedDuringTheLameDuckOfASIGTERMDuringAReloadIsReported(t *testing.T) {
	t.Run("new k8s_event started", func(t *testing.T) {
		sigtermDuringReload(t, "lameduck", "kubeapi", pluginName, "holdstart")
	})
	t.Run("new k8s_event not started yet", func(t *testing.T) {
		sigtermDuringReload(t, "lameduck", "kubeapi", "holdstart", pluginName)
	})
}

// sigtermDuringReload runs the test above, the reload held in the OnStartup of
// holdstart, placed in the plugin order as order says.
func sigtermDuringReload(t *testing.T, order ...string) {
	withDirectives(t, order...)
	client := fakeAPI(t, true)
	contents := strings.Replace(corefile("k8s_event"), "k8s_event", "k8s_event\n  lameduck\n  holdstart", 1)
	old := startCoreDNS(t, contents)
	if n := len(caddy.Instances()); n != 1 {
		stopInstance(t, old)
		t.Fatalf("%d caddy instances, want this test's only", n)
	}

	hold := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	holdStart.Store(&hold)
	t.Cleanup(func() { holdStart.Store(nil) })
	reloaded := make(chan *caddy.Instance, 1)
	go func() {
		next, err := old.Restart(input(contents + "# reloaded\n"))
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
	// The reload is under way: the new configuration's k8s_event has started. caddy's
	// list holds both (the reload waits here, so nothing changes it meanwhile).
	instances := caddy.Instances()
	if len(instances) != 2 || instances[0] != old {
		close(hold[1])
		t.Fatalf("caddy's list during the reload: %d instances, want the old one then the new one", len(instances))
	}

	// What caddy's SIGTERM handler does: the event, then each instance's callbacks.
	caddy.EmitEvent(caddy.ShutdownEvent, "SIGTERM")
	t.Cleanup(func() { exiting.Store(false) })
	before := lameDuckRuns.Load()
	var errs []error
	for _, inst := range instances {
		errs = append(errs, inst.ShutdownCallbacks()...)
	}
	if len(errs) > 0 {
		t.Errorf("shutdown callbacks: %v", errs)
	}
	if lameDuckRuns.Load() != before+1 {
		t.Errorf("the lame duck ran %d times, want once (the new configuration's)", lameDuckRuns.Load()-before)
	}
	evs := events(t, client, testNS)
	close(hold[1])
	if next := <-reloaded; next != nil { // the reload stopped old; on failure it is old
		stopInstance(t, next)
	}
	if n, _ := countMessage(evs, "plugin/lameduck: 2 example.org. A: a query during the lame duck"); n != 1 {
		t.Errorf("SIGTERM during a reload: the line logged during the new configuration's lame duck was not reported: %s", describe(evs))
	}
	if reporting() {
		t.Error("after every final shutdown the pipeline still reports")
	}
}
