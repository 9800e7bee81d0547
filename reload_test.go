package k8s_event

import (
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
)

func TestReloadKeepsCountingRepeatedLines(t *testing.T) {
	client := fakeAPI(t, true)
	stanza := "k8s_event {\n rate 1 256\n }"
	inst := startCoreDNS(t, corefile(stanza))
	errorsLog.Error("parse failed")
	for i := range 3 {
		inst = reload(t, inst, corefile(stanza)+fmt.Sprintf("# %d\n", i))
		errorsLog.Error("parse failed")
	}
	evs := stopAndList(t, inst, client)
	stopInstance(t, inst)
	if n, count := countMessage(evs, "plugin/errors: parse failed"); n != 1 || count != 4 {
		t.Errorf("want one event with Count 4 for a line repeated across 3 reloads, got %s", describe(evs))
	}
}

// clientPerStart hands each caddy instance's kubeapi a fresh fake, as a reload that
// changes kubeapi's settings would.
func clientPerStart(t *testing.T) *[]*fake.Clientset {
	t.Helper()
	var made []*fake.Clientset
	opts := testOptions(nil, true)
	opts.clientFor = func(*dnsserver.Config) (kubernetes.Interface, error) {
		c := newFake()
		made = append(made, c)
		return c, nil
	}
	usePipeline(t, opts)
	return &made
}

func TestReloadUsesTheNewConnection(t *testing.T) {
	clients := clientPerStart(t)
	stanza := "k8s_event {\n rate 1 256\n }"
	inst := startCoreDNS(t, corefile(stanza))
	errorsLog.Error("first")
	eventuallyEvents(t, (*clients)[0], testNS, "the first event", func(evs []corev1.Event) bool { return len(evs) == 1 })

	next := reload(t, inst, corefile(stanza)+"# new connection\n")
	errorsLog.Error("second")
	stopAndList(t, next, (*clients)[1])
	stopInstance(t, next)
	if got := events(t, (*clients)[1], testNS); len(got) != 1 || got[0].Message != "plugin/errors: second" {
		t.Errorf("the new connection got %s, want the second line", describe(got))
	}
	if got := events(t, (*clients)[0], testNS); len(got) != 1 {
		t.Errorf("the old connection got %s, want only the first line", describe(got))
	}
}

func TestReloadFailingAfterStartKeepsReporting(t *testing.T) {
	// The new configuration starts (k8s_event included) but cannot listen: caddy then
	// keeps the running instance, which must take its reporter and connection back.
	taken, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.LocalAddr().(*net.UDPAddr).Port

	for _, newStanza := range []string{"k8s_event {\n rate 1 256\n }", "k8s_event {\n level error\n rate 1 256\n }"} {
		t.Run(newStanza, func(t *testing.T) {
			clients := clientPerStart(t)
			inst := startCoreDNS(t, corefile("k8s_event {\n rate 1 256\n }"))
			bad := corefile(newStanza) + fmt.Sprintf("example.net:%d {\n kubeapi {\n  endpoint http://127.0.0.1:1\n }\n}\n", port)
			if _, err := tryReload(t, inst, bad); err == nil {
				t.Fatal("expected the reload to fail on the taken port")
			}
			if len(*clients) != 2 {
				t.Fatalf("the failed configuration did not get as far as starting k8s_event (%d clients)", len(*clients))
			}
			errorsLog.Error("after failed reload")
			stopAndList(t, inst, (*clients)[0])
			stopInstance(t, inst)
			if got := events(t, (*clients)[0], testNS); len(got) != 1 {
				t.Errorf("the running instance's connection got %s, want the line", describe(got))
			}
			if got := events(t, (*clients)[1], testNS); len(got) != 0 {
				t.Errorf("the failed instance's connection got %s, want nothing", describe(got))
			}
			if reporting() {
				t.Error("the pipeline still reports after the final shutdown")
			}
		})
	}
}

func TestReloadOneEventPerLine(t *testing.T) {
	client := fakeAPI(t, true)
	stanza := "k8s_event {\n level error\n rate 1 256\n }"
	inst := startCoreDNS(t, corefile(stanza))
	errorsLog.Error("before reload")

	for i := range 5 {
		inst = reload(t, inst, corefile(stanza)+fmt.Sprintf("# reload %d\n", i))
		errorsLog.Errorf("after reload %d", i)
	}
	// A failed reload keeps the running instance reporting.
	if _, err := tryReload(t, inst, corefile("k8s_event {\n level nonsense\n }")); err == nil {
		t.Fatal("expected the bad reload to fail")
	}
	errorsLog.Error("after failed reload")

	evs := stopAndList(t, inst, client)
	stopInstance(t, inst)
	msgs := []string{"plugin/errors: before reload", "plugin/errors: after failed reload"}
	for i := range 5 {
		msgs = append(msgs, fmt.Sprintf("plugin/errors: after reload %d", i))
	}
	for _, msg := range msgs {
		if n, count := countMessage(evs, msg); n != 1 || count != 1 {
			t.Errorf("%q: %d events with total count %d, want exactly one; %s", msg, n, count, describe(evs))
		}
	}
}

func TestReloadsLeaveNothingBehind(t *testing.T) {
	fakeAPI(t, true)

	// Settings alternate, so every reload replaces the reporter instead of keeping it.
	stanzas := []string{"k8s_event {\n level error\n }", "k8s_event {\n level error warning\n }"}
	inst := startCoreDNS(t, corefile(stanzas[0]))
	for i := range 50 {
		inst = reload(t, inst, corefile(stanzas[(i+1)%2]))
		errorsLog.Errorf("after reload %d", i)
	}
	if n := len(pipelineGoroutines()); n == 0 {
		t.Fatal("no pipeline goroutine found while running: the check below would prove nothing")
	}
	stopCoreDNS(t, inst)

	deadline := time.Now().Add(10 * time.Second)
	for left := pipelineGoroutines(); len(left) > 0; left = pipelineGoroutines() {
		if time.Now().After(deadline) {
			t.Fatalf("after 50 reloads and shutdown, %d goroutines of the event pipeline are left:\n%s", len(left), strings.Join(left, "\n\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if reporting() {
		t.Error("the pipeline still reports after the final shutdown")
	}
}

// pipelineGoroutines returns the stacks of goroutines that belong to this plugin's
// pipeline: its own code, client-go's event recorder and the watch broadcaster under it.
func pipelineGoroutines() []string {
	buf := make([]byte, 1<<22)
	var found []string
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "testing.tRunner") {
			continue
		}
		for _, mark := range []string{"github.com/coredns/k8s_event.", "k8s.io/client-go/tools/record.", "k8s.io/apimachinery/pkg/watch."} {
			if strings.Contains(g, mark) {
				found = append(found, g)
				break
			}
		}
	}
	return found
}

func TestReloadKeepsTokenBuckets(t *testing.T) {
	client := fakeAPI(t, true)
	stanza := "k8s_event {\n rate 1/3600 2\n }"
	inst := startCoreDNS(t, corefile(stanza))
	for i := range 3 {
		errorsLog.Errorf("before %d", i)
	}
	next := reload(t, inst, corefile(stanza)+"# reloaded\n")
	errorsLog.Error("after reload")
	evs := stopAndList(t, next, client)
	stopInstance(t, next)
	if len(evs) != 2 {
		t.Errorf("want the 2 lines of the burst and nothing after the reload, got %s", describe(evs))
	}
}

func TestReloadWithoutThenWithPlugin(t *testing.T) {
	client := fakeAPI(t, true)
	stanza := "k8s_event {\n rate 1 256\n }"
	inst := startCoreDNS(t, corefile(stanza))
	errorsLog.Error("reported")

	without := reload(t, inst, corefile(""))
	if reporting() {
		t.Fatal("the pipeline reports after a reload removed k8s_event")
	}
	errorsLog.Error("not reported")

	with := reload(t, without, corefile(stanza))
	errorsLog.Error("reported again")
	evs := stopAndList(t, with, client)
	stopInstance(t, with)
	for msg, want := range map[string]int{"plugin/errors: reported": 1, "plugin/errors: not reported": 0, "plugin/errors: reported again": 1} {
		if n, _ := countMessage(evs, msg); n != want {
			t.Errorf("%q: %d events, want %d; %s", msg, n, want, describe(evs))
		}
	}
}

func TestReloadLooksUpUIDOnce(t *testing.T) {
	client := newFake()
	p := usePipeline(t, testOptions(client, false))
	stanza := "k8s_event"
	inst := startCoreDNS(t, corefile(stanza))
	waitReference(t, p)
	for i := range 3 {
		inst = reload(t, inst, corefile(stanza)+fmt.Sprintf("# %d\n", i))
	}
	errorsLog.Error("after reloads")
	evs := stopAndList(t, inst, client)
	stopInstance(t, inst)
	lists := 0
	for _, a := range client.Actions() {
		if a.GetVerb() == "list" && a.GetResource().Resource == "pods" {
			lists++
		}
	}
	if lists != 1 {
		t.Errorf("%d pod lists for one start and 3 reloads, want 1", lists)
	}
	if len(evs) != 1 || evs[0].InvolvedObject.UID != testUID {
		t.Errorf("want one event with the looked-up UID, got %s", describe(evs))
	}
}

// A reload that adds k8s_event but fails leaves CoreDNS running without it: nothing is
// selected, counted or queued for a client that never comes.
func TestFailedReloadAddingThePluginReportsNothing(t *testing.T) {
	fakeAPI(t, true)
	inst := startCoreDNS(t, corefile(""))
	defer stopCoreDNS(t, inst)
	lines := testutil.ToFloat64(linesCount.WithLabelValues("error"))

	// The second server block gives k8s_event other settings: the reload fails in its setup.
	if _, err := tryReload(t, inst, corefile("k8s_event {\n level error\n }", "k8s_event {\n level info\n }")); err == nil {
		t.Fatal("expected the reload to fail")
	}
	errorsLog.Error("logged by the configuration that has no k8s_event")
	if reporting() {
		t.Error("the pipeline reports after a failed reload that would have added k8s_event")
	}
	if got := testutil.ToFloat64(linesCount.WithLabelValues("error")) - lines; got != 0 {
		t.Errorf("%v lines selected by a configuration that did not start, want 0", got)
	}
}

// takenPort holds a UDP port on the loopback for the test, for a reload to fail on.
func takenPort(t *testing.T) int {
	t.Helper()
	taken, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { taken.Close() })
	return taken.LocalAddr().(*net.UDPAddr).Port
}

// A reload that adds k8s_event to a configuration without it, gets as far as starting
// it, and then cannot listen leaves CoreDNS as it was: caddy tells only the running
// instance's plugins that the reload failed, and the settings of the new one wait for
// caddy to say it started. Nothing is selected, nothing reaches the failed
// configuration's connection, and its CACHESIZE is not the process's.
func TestFailedReloadAddingThePluginAfterStartReportsNothing(t *testing.T) {
	port := takenPort(t)
	clients := clientPerStart(t)
	inst := startCoreDNS(t, corefile(""))
	defer stopCoreDNS(t, inst)
	lines := testutil.ToFloat64(linesCount.WithLabelValues("error"))

	bad := corefile("k8s_event {\n rate 1 256 64\n }") + fmt.Sprintf("example.net:%d {\n kubeapi {\n  endpoint http://127.0.0.1:1\n }\n}\n", port)
	if _, err := restart(t, inst, bad); err == nil {
		t.Fatal("expected the reload to fail on the taken port")
	}
	if len(*clients) != 1 {
		t.Fatalf("the failed configuration did not get as far as starting k8s_event (%d clients)", len(*clients))
	}
	errorsLog.Error("logged by the configuration that has no k8s_event")
	if got := testutil.ToFloat64(linesCount.WithLabelValues("error")) - lines; got != 0 {
		t.Errorf("%v lines selected by a configuration that never served, want 0", got)
	}
	if reporting() {
		t.Error("the pipeline reports after a failed reload that would have added k8s_event")
	}
	process.Lock()
	size := process.p.sender.cacheSize.Load()
	process.Unlock()
	if size != 0 {
		t.Errorf("CACHESIZE %d fixed by a configuration that never served", size)
	}
	time.Sleep(100 * time.Millisecond) // a line selected would be on its way by now
	if got := events(t, (*clients)[0], testNS); len(got) != 0 {
		t.Errorf("the failed configuration's connection got %s, want nothing", describe(got))
	}
}

// A reload that fails beside another that succeeds (the reload plugin and SIGUSR1 at
// once): the failed reload's callbacks read caddy's instance list in a way the race
// detector accepts, and the configuration that serves in the end reports.
func TestFailedReloadBesideAnotherReload(t *testing.T) {
	client := fakeAPI(t, true)
	good, bad := goodAndFailingCorefiles(t)
	inst := startCoreDNS(t, good)
	for i := range 10 {
		reloaded := make(chan *caddy.Instance)
		go func() {
			next, err := restart(t, inst, good+fmt.Sprintf("# %d\n", i))
			if err != nil {
				t.Errorf("reload %d beside the failing one: %v", i, err)
			}
			reloaded <- next
		}()
		if _, err := restart(t, inst, bad); err == nil {
			t.Fatal("expected the reload to fail on the taken port")
		}
		inst = <-reloaded
		serving(t, inst)
	}
	errorsLog.Error("after the reloads")
	evs := stopAndList(t, inst, client)
	stopInstance(t, inst)
	if n, _ := countMessage(evs, "plugin/errors: after the reloads"); n != 1 {
		t.Errorf("the serving configuration's line: %s", describe(evs))
	}
}

// A reload that fails beside the start of another instance (caddy.Start, which adds to
// caddy's instance list): the failed reload's callbacks learn whether the running
// instance still serves without reading that list, which caddy changes under a lock of
// its own, and the running configuration keeps reporting.
func TestFailedReloadBesideAStart(t *testing.T) {
	client := fakeAPI(t, true)
	good, bad := goodAndFailingCorefiles(t)
	inst := startCoreDNS(t, good)
	for i := range 10 {
		started := make(chan *caddy.Instance)
		go func() {
			other, err := caddy.Start(input(corefile("")))
			if err != nil {
				t.Errorf("start %d beside the failing reload: %v", i, err)
				other = nil
			}
			started <- other
		}()
		if _, err := restart(t, inst, bad); err == nil {
			t.Fatal("expected the reload to fail on the taken port")
		}
		if other := <-started; other != nil {
			serving(t, other)
			stopInstance(t, other)
		}
	}
	errorsLog.Error("after the failed reloads")
	evs := stopAndList(t, inst, client)
	stopInstance(t, inst)
	if n, _ := countMessage(evs, "plugin/errors: after the failed reloads"); n != 1 {
		t.Errorf("the running configuration's line: %s", describe(evs))
	}
}

// goodAndFailingCorefiles are a Corefile with k8s_event, and the same with a server
// block on a port that is taken, whose reload fails.
func goodAndFailingCorefiles(t *testing.T) (good, bad string) {
	good = corefile("k8s_event {\n rate 1 256\n }")
	return good, good + fmt.Sprintf("example.net:%d {\n kubeapi {\n  endpoint http://127.0.0.1:1\n }\n}\n", takenPort(t))
}
