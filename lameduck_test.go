package k8s_event

import (
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin"
	clog "github.com/coredns/coredns/plugin/pkg/log"
)

// lameduck is a test plugin that logs an error line in its OnFinalShutdown, as a query
// that fails while the *health* plugin's lame duck keeps CoreDNS serving after SIGTERM;
// as health's, the lame duck is the serving configuration's, not one a reload replaces.
var (
	lameDuckLog  = clog.NewWithPlugin("lameduck")
	lameDuckRuns atomic.Int32 // lines it logged
)

func init() {
	plugin.Register("lameduck", func(c *caddy.Controller) error {
		// Like health, a configuration being replaced has no lame duck of its own: the
		// new one serves, and holds the lame duck when the process exits.
		var replaced atomic.Bool
		c.OnRestart(func() error {
			replaced.Store(true)
			return nil
		})
		c.OnRestartFailed(func() error {
			replaced.Store(false)
			return nil
		})
		c.OnFinalShutdown(func() error {
			if replaced.Load() {
				return nil
			}
			lameDuckLog.Error("2 example.org. A: a query during the lame duck")
			lameDuckRuns.Add(1)
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
	stopInstance(t, inst)
	if n, _ := countMessage(evs, "plugin/lameduck: 2 example.org. A: a query during the lame duck"); n != 1 {
		t.Errorf("the line of the lame duck: %s", describe(evs))
	}
}

// The plugin order decides whether the lame duck is reported: caddy runs the
// OnFinalShutdown callbacks in the order the plugins were set up, plugin.cfg's, so with
// k8s_event before the plugin that logs in its final shutdown (health's lame duck), the
// final flush has ended the reporting by then. This is why docs/operations.md and
// tools/tree (the plugin.cfg lines it appends) say k8s_event must come after health.
func TestLameDuckOfAPluginAfterK8sEventIsNotReported(t *testing.T) {
	withDirectives(t, "kubeapi", pluginName, "lameduck")
	client := fakeAPI(t, true)
	inst := startCoreDNS(t, strings.Replace(corefile("k8s_event"), "k8s_event", "k8s_event\n  lameduck", 1))
	caddy.EmitEvent(caddy.ShutdownEvent, "SIGTERM")
	t.Cleanup(func() { exiting.Store(false) })
	before := lameDuckRuns.Load()
	evs := stopAndList(t, inst, client)
	stopInstance(t, inst)
	if lameDuckRuns.Load() == before {
		t.Fatal("the lame duck plugin's final shutdown did not run: the test shows nothing")
	}
	if n, _ := countMessage(evs, "plugin/lameduck: 2 example.org. A: a query during the lame duck"); n != 0 {
		t.Errorf("with k8s_event before the lame duck in plugin.cfg, its line was reported: the order does not matter, and the docs' \"after health\" is needless: %s", describe(evs))
	}
}

// startedInstances, while a test sets it, receives each instance caddy says started
// (caddy.InstanceStartupEvent): a SIGUSR1 reload's new one, once the reload has done all
// but print its last line. Each test sets a channel of its own, so that nothing a
// previous test or run left behind is taken for its reload.
var startedInstances atomic.Pointer[chan *caddy.Instance]

// startupSignalMu makes the look-up and registration of the startupsignal hook one step.
var startupSignalMu sync.Mutex

// sigusr1Corefile is what the test Caddyfile loader gives caddy's SIGUSR1 reload; empty
// for no Caddyfile.
var sigusr1Corefile atomic.Value

func init() {
	// startupsignal registers the hook that feeds startedInstances in every setup, as
	// k8s_event does its own: caddy's SIGUSR1 reload removes every hook first.
	plugin.Register("startupsignal", func(*caddy.Controller) error {
		startupSignalMu.Lock()
		defer startupSignalMu.Unlock()
		if !slices.Contains(caddy.ListPlugins()["event_hooks"], "startupsignal") {
			caddy.RegisterEventHook("startupsignal", func(ev caddy.EventName, info any) error {
				ci, ok := info.(*caddy.Instance)
				if ch := startedInstances.Load(); ev == caddy.InstanceStartupEvent && ok && ch != nil {
					select {
					case *ch <- ci:
					default:
					}
				}
				return nil
			})
		}
		return nil
	})
	caddy.RegisterCaddyfileLoader("k8s_event_test", caddy.LoaderFunc(func(string) (caddy.Input, error) {
		if s, _ := sigusr1Corefile.Load().(string); s != "" {
			return input(s), nil
		}
		return nil, nil
	}))
	// CoreDNS's signal handling, set up when the test binary starts, well before a test
	// sends a signal: caddy registers for them in a goroutine of its own.
	caddy.TrapSignals()
}

// caddy's SIGUSR1 reload, as CoreDNS runs it (caddy.TrapSignals), removes every event
// hook before it starts the new configuration: the line logged during the lame duck of
// the SIGTERM after it is still reported.
func TestLineLoggedDuringTheLameDuckAfterSIGUSR1IsReported(t *testing.T) {
	withDirectives(t, "lameduck", "kubeapi", pluginName, "startupsignal")
	client := fakeAPI(t, true)
	contents := strings.Replace(corefile("k8s_event"), "k8s_event", "k8s_event\n  lameduck\n  startupsignal", 1)
	sigusr1Corefile.Store(contents)
	t.Cleanup(func() { sigusr1Corefile.Store("") })
	loaded, err := caddy.LoadCaddyfile("dns") // the loader SIGUSR1 reloads with
	if err != nil {
		t.Fatal(err)
	}
	inst, err := caddy.Start(loaded)
	if err != nil {
		t.Fatalf("starting CoreDNS: %v", err)
	}
	serving(t, inst)
	if n := len(caddy.Instances()); n != 1 {
		stopInstance(t, inst)
		t.Fatalf("%d caddy instances, want this test's only: SIGUSR1 reloads the first", n)
	}
	// caddy sets an instance's Caddyfile outside its instance lock, and its SIGUSR1
	// handler reads it after taking the lock: taking the lock here (stopping an instance
	// that is in no list) orders the two for the race detector, as time does in CoreDNS.
	(&caddy.Instance{}).Stop()
	sigusr1Corefile.Store(contents + "# reloaded\n")
	started := make(chan *caddy.Instance, 1)
	startedInstances.Store(&started)
	t.Cleanup(func() { startedInstances.Store(nil) })
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	var reloaded *caddy.Instance
	select {
	case reloaded = <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("no SIGUSR1 reload within 10 s")
	}
	serving(t, reloaded)

	caddy.EmitEvent(caddy.ShutdownEvent, "SIGTERM") // as caddy's SIGTERM handler does
	t.Cleanup(func() { exiting.Store(false) })
	sawShutdown := exiting.Load()
	evs := stopAndList(t, reloaded, client)
	stopInstance(t, reloaded)
	if n, _ := countMessage(evs, "plugin/lameduck: 2 example.org. A: a query during the lame duck"); n != 1 {
		t.Errorf("after a SIGUSR1 reload, the line logged during the lame duck was not reported (exiting set by ShutdownEvent: %v): %s", sawShutdown, describe(evs))
	}
}

// The reload plugin's reloads (caddy's Restart, event hooks kept) set k8s_event up again
// too: the line logged during the lame duck after one is reported once.
func TestLineLoggedDuringTheLameDuckAfterAReloadIsReported(t *testing.T) {
	withDirectives(t, "lameduck", "kubeapi", pluginName)
	client := fakeAPI(t, true)
	contents := strings.Replace(corefile("k8s_event"), "k8s_event", "k8s_event\n  lameduck", 1)
	inst := reload(t, startCoreDNS(t, contents), contents+"# reloaded\n")
	caddy.EmitEvent(caddy.ShutdownEvent, "SIGTERM")
	t.Cleanup(func() { exiting.Store(false) })
	evs := stopAndList(t, inst, client)
	stopInstance(t, inst)
	if n, _ := countMessage(evs, "plugin/lameduck: 2 example.org. A: a query during the lame duck"); n != 1 {
		t.Errorf("after a reload, the line of the lame duck: %s", describe(evs))
	}
}
