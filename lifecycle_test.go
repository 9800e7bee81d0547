package k8s_event

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/prometheus/client_golang/prometheus/testutil"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

// Test plugins, placed around k8s_event in the plugin order: startlog logs a line in its
// OnStartup, as the kubernetes plugin does while it waits for the API; failshutdown
// fails its OnShutdown once when armed.
var (
	startLog         = clog.NewWithPlugin("startlog")
	failShutdownOnce atomic.Bool
)

func init() {
	plugin.Register("startlog", func(c *caddy.Controller) error {
		c.OnStartup(func() error {
			startLog.Warning("starting server with unsynced Kubernetes API")
			return nil
		})
		return nil
	})
	plugin.Register("failshutdown", func(c *caddy.Controller) error {
		c.OnShutdown(func() error {
			if failShutdownOnce.CompareAndSwap(true, false) {
				return errors.New("failshutdown: armed to fail")
			}
			return nil
		})
		return nil
	})
}

// withDirectives sets CoreDNS's plugin order for the test.
func withDirectives(t *testing.T, order ...string) {
	t.Helper()
	prev := dnsserver.Directives
	dnsserver.Directives = slices.Concat(slices.DeleteFunc(slices.Clone(prev), func(d string) bool { return slices.Contains(order, d) }), order)
	t.Cleanup(func() { dnsserver.Directives = prev })
}

func TestStartupLinesReportedWhereverThePluginIs(t *testing.T) {
	for _, order := range [][]string{
		{"startlog", "kubeapi", pluginName},
		{pluginName, "kubeapi", "startlog"},
	} {
		t.Run(strings.Join(order, ","), func(t *testing.T) {
			withDirectives(t, order...)
			client := fakeAPI(t, true)
			inst := startCoreDNS(t, strings.Replace(corefile("k8s_event"), "k8s_event", "k8s_event\n  startlog", 1))
			evs := stopAndList(t, inst, client)
			stopInstance(t, inst)
			if n, _ := countMessage(evs, "plugin/startlog: starting server with unsynced Kubernetes API"); n != 1 {
				t.Errorf("the start-up line of a plugin before k8s_event: %s", describe(evs))
			}
		})
	}
}

// When a plugin of the old instance fails to shut down, caddy stops running the old
// instance's shutdown callbacks and calls its restart-failed callbacks, although the new
// instance already serves: its settings stay, whether the failing plugin shuts down before
// k8s_event or after it.
func TestFailedShutdownDuringReloadKeepsTheNewSettings(t *testing.T) {
	for _, order := range [][]string{
		{"kubeapi", pluginName, "failshutdown"},
		{"failshutdown", "kubeapi", pluginName},
	} {
		t.Run(strings.Join(order, ","), func(t *testing.T) {
			withDirectives(t, order...)
			clients := clientPerStart(t)
			inst := startCoreDNS(t, strings.Replace(corefile("k8s_event"), "k8s_event", "k8s_event\n  failshutdown", 1))

			failShutdownOnce.Store(true)
			next := strings.Replace(corefile("k8s_event {\n level info error\n }"), "k8s_event", "failshutdown\n  k8s_event", 1)
			served, err := tryReload(t, inst, next)
			if err == nil || !strings.Contains(err.Error(), "armed to fail") {
				t.Fatalf("want the reload to fail in the old instance's shutdown, got %v", err)
			}
			if served != inst {
				t.Fatal("caddy returned another instance than the old one: the test no longer reproduces the failure")
			}
			reloadLog.Info("an info line, reported by the new settings only")
			newest := caddy.Instances()[len(caddy.Instances())-1]
			if errs := newest.ShutdownCallbacks(); len(errs) > 0 {
				t.Fatal(errs)
			}
			stopInstance(t, newest)
			if got := events(t, (*clients)[1], testNS); len(got) != 1 {
				t.Errorf("the new configuration's connection got %s, want the info line", describe(got))
			}
			if got := events(t, (*clients)[0], testNS); len(got) != 0 {
				t.Errorf("the old configuration's connection got %s, want nothing", describe(got))
			}
		})
	}
}

// The same failure, in a reload that drops k8s_event: the new configuration, which
// serves, has no k8s_event, so the reporting stops, as the old one's shutdown would have
// stopped it.
func TestFailedShutdownDuringReloadThatDropsThePlugin(t *testing.T) {
	withDirectives(t, "failshutdown", "kubeapi", pluginName)
	fakeAPI(t, true)
	inst := startCoreDNS(t, strings.Replace(corefile("k8s_event"), "k8s_event", "k8s_event\n  failshutdown", 1))

	failShutdownOnce.Store(true)
	if _, err := tryReload(t, inst, corefile("failshutdown")); err == nil || !strings.Contains(err.Error(), "armed to fail") {
		t.Fatalf("want the reload to fail in the old instance's shutdown, got %v", err)
	}
	newest := caddy.Instances()[len(caddy.Instances())-1]
	defer stopCoreDNS(t, newest)
	if reporting() {
		t.Error("the pipeline reports after a reload to a configuration without k8s_event, which serves")
	}
}

// probe is a log listener registered beside k8s_event's: CoreDNS calls it with its
// listener lock held, as it calls k8s_event's.
type probe struct {
	clog.Listener
	onError func()
}

func (probe) Name() string                    { return "probe" }
func (p probe) Errorf(string, string, ...any) { p.onError() }

func TestFatalWriteFailingWhileRegisterWaits(t *testing.T) {
	p, _, client := newTestPipeline(t, "k8s_event {\n level fatal\n}")
	client.PrependReactor("create", "events", func(k8stesting.Action) (bool, k8sruntime.Object, error) {
		return true, nil, errors.New("connection refused")
	})
	done := make(chan struct{})
	var once sync.Once
	pr := probe{onError: func() {
		once.Do(func() {
			// A reload registering a listener now waits for the lock this call holds...
			go clog.RegisterListener(probe{onError: func() {}})
			time.Sleep(50 * time.Millisecond)
			// ...while the fatal line's write fails, and k8s_event says so.
			p.listener.Fatal("plugin/loop: ", "Loop detected")
			close(done)
		})
	}}
	clog.RegisterListener(pr)
	t.Cleanup(func() { clog.DeregisterListener(pr) })

	go clog.NewWithPlugin("errors").Errorf("%s", "under the listener lock")
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the fatal line did not return within 5 s: deadlock on CoreDNS's listener lock")
	}
}

func TestSettingsSwapUnderConcurrentLogging(t *testing.T) {
	client := fakeAPI(t, true)
	stanzas := []string{"k8s_event {\n level error\n rate 1 256\n }", "k8s_event {\n level error warning\n rate 1 128 1024\n }"}
	lines := func() float64 {
		return testutil.ToFloat64(linesCount.WithLabelValues("error")) + testutil.ToFloat64(linesCount.WithLabelValues("warning"))
	}
	linesBefore, before := lines(), readOutcomes()
	inst := startCoreDNS(t, corefile(stanzas[0]))
	var stop atomic.Bool
	var wg sync.WaitGroup
	for g := range 4 {
		spawn(&wg, func() {
			for i := 0; !stop.Load(); i++ {
				errorsLog.Errorf("goroutine %d line %d", g, i%50)
				kubeLog.Warningf("goroutine %d warning %d", g, i%50)
			}
		})
	}
	for i := range 20 {
		inst = reload(t, inst, corefile(stanzas[(i+1)%2]))
	}
	stop.Store(true)
	wg.Wait()
	warnings := testutil.ToFloat64(linesCount.WithLabelValues("warning"))
	kubeLog.Warning("not selected by the last configuration's levels")
	if testutil.ToFloat64(linesCount.WithLabelValues("warning")) != warnings {
		t.Error("a warning line was selected after the reload to level error")
	}
	stopAndList(t, inst, client)
	stopInstance(t, inst)

	// Every selected line ended in exactly one counted outcome.
	var ended float64
	for _, v := range readOutcomes().since(before) {
		ended += v
	}
	if selected := lines() - linesBefore; ended != selected || selected == 0 {
		t.Errorf("%v lines selected, %v ended in an outcome: %s", selected, ended, readOutcomes().since(before))
	}
}

func TestFiftyReloadsAndAFailedOneOneEventPerLine(t *testing.T) {
	client := fakeAPI(t, true)
	before := readOutcomes()
	stanzas := []string{"k8s_event {\n rate 1 256\n }", "k8s_event {\n level error\n rate 1 256 512\n }"}
	inst := startCoreDNS(t, corefile(stanzas[0]))
	for i := range 50 {
		inst = reload(t, inst, corefile(stanzas[i%2]))
		errorsLog.Errorf("after reload %d", i)
	}
	if _, err := tryReload(t, inst, corefile("k8s_event {\n level nonsense\n }")); err == nil {
		t.Fatal("expected the bad reload to fail")
	}
	errorsLog.Error("after the failed reload")
	evs := stopAndList(t, inst, client)
	stopInstance(t, inst)

	// Distinct lines: client-go combines those beyond 10 that one correlator sees within
	// 10 minutes, so the Counts, not the Events, add up to the lines.
	var count int32
	for _, e := range evs {
		count += e.Count
	}
	if count != 51 {
		t.Errorf("events count %d lines, want exactly the 51 logged: %s", count, describe(evs))
	}
	if got, want := readOutcomes().since(before), 51.0; got[outcomeCreated]+got[outcomeMerged] != want || len(got) > 2 {
		t.Errorf("outcomes %s, want 51 lines reported", got)
	}
}
