package k8s_event

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
)

func init() {
	// Chain order as plugin.cfg would give it: both near the end.
	for _, d := range []string{"kubeapi", pluginName} {
		if !slices.Contains(dnsserver.Directives, d) {
			dnsserver.Directives = append(dnsserver.Directives, d)
		}
	}
	caddy.Quiet = true
	dnsserver.Quiet = true
}

// Pod identity the tests run as.
const (
	testPod  = "coredns-7d8f9c-abcde"
	testNS   = "kube-system"
	testUID  = "0b6f4c1e-2f43-4d7e-9a5e-3c0e7e1d2a11"
	testNode = "node-1"
)

// testIdentity is the test Pod's identity, with or without its UID.
func testIdentity(withUID bool) identity {
	id := identity{podName: testPod, namespace: testNS, nodeName: testNode}
	if withUID {
		id.podUID = testUID
	}
	return id
}

// testOptions are the options of a pipeline whose kubeapi client, in every server block,
// is client, and whose Pod is the test Pod.
func testOptions(client kubernetes.Interface, withUID bool) options {
	opts := defaultOptions()
	opts.clientFor = func(*dnsserver.Config) (kubernetes.Interface, error) { return client, nil }
	opts.identity = testIdentity(withUID)
	opts.lookupRetry = backoff{initial: 10 * time.Millisecond, max: 100 * time.Millisecond}
	// Tests that list the events after the final shutdown need all of them written,
	// however loaded the machine: the flush ends when the backlog is empty, so a long
	// bound costs a passing test nothing. The tests of the bound itself set their own.
	opts.flushTimeout = time.Minute
	return opts
}

// startPipeline makes a pipeline built from opts the process's (usePipeline) and puts
// the settings of stanza in effect, with client as every server block's kubeapi client.
// Tests call its listener directly, as CoreDNS's log package would.
func startPipeline(t testing.TB, opts options, client kubernetes.Interface, stanza string) *pipeline {
	t.Helper()
	cfg, err := parse(caddy.NewTestController("dns", stanza))
	if err != nil {
		t.Fatal(err)
	}
	p := usePipeline(t, opts)
	p.use(p.settingsFor(cfg, client))
	return p
}

// usePipeline makes a pipeline built from opts the process's for the rest of the test,
// as if the process had just started; the CoreDNS instances the test starts use it. At
// the end of the test it is stopped as at the process's final shutdown.
func usePipeline(t testing.TB, opts options) *pipeline {
	t.Helper()
	p := newPipeline(opts)
	process.Lock()
	process.p = p
	process.Unlock()
	t.Cleanup(func() {
		p.stop()
		process.Lock()
		process.p = nil
		process.Unlock()
	})
	return p
}

// corefile builds a Corefile of server blocks on free ports, each with kubeapi and the
// given k8s_event stanza.
func corefile(stanzas ...string) string {
	var s string
	for i, st := range stanzas {
		s += fmt.Sprintf("example%d.org:0 {\n  kubeapi {\n    endpoint http://127.0.0.1:1\n  }\n  %s\n}\n", i, st)
	}
	return s
}

func input(contents string) caddy.Input {
	return caddy.CaddyfileInput{Contents: []byte(contents), Filepath: "Corefile", ServerTypeName: "dns"}
}

// startCoreDNS starts a CoreDNS instance in-process and waits until it serves.
func startCoreDNS(t testing.TB, contents string) *caddy.Instance {
	t.Helper()
	inst, err := caddy.Start(input(contents))
	if err != nil {
		t.Fatalf("starting CoreDNS: %v", err)
	}
	serving(t, inst)
	return inst
}

// stopCoreDNS stops inst as the process's final shutdown would.
func stopCoreDNS(t testing.TB, inst *caddy.Instance) {
	t.Helper()
	if errs := inst.ShutdownCallbacks(); len(errs) > 0 {
		t.Errorf("shutdown callbacks: %v", errs)
	}
	defer watchdog(t, "stopping an instance")()
	defer wake(inst)()
	if err := inst.Stop(); err != nil {
		t.Errorf("stopping CoreDNS: %v", err)
	}
}

// events lists the events in ns, oldest first.
func events(t testing.TB, client kubernetes.Interface, ns string) []corev1.Event {
	t.Helper()
	list, err := client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("listing events: %v", err)
	}
	sort.SliceStable(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	return list.Items
}

// eventuallyEvents polls until match accepts the events in ns, or fails after a deadline.
func eventuallyEvents(t testing.TB, client kubernetes.Interface, ns string, what string, match func([]corev1.Event) bool) []corev1.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs := events(t, client, ns)
		if match(evs) {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; events: %s", what, describe(evs))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// countMessage counts the events with message msg, adding up their Count fields.
func countMessage(evs []corev1.Event, msg string) (objects int, count int32) {
	for _, e := range evs {
		if e.Message == msg {
			objects++
			count += e.Count
		}
	}
	return objects, count
}

func describe(evs []corev1.Event) string {
	s := fmt.Sprintf("%d events", len(evs))
	for _, e := range evs {
		s += fmt.Sprintf("\n  %s %s %s x%d %q", e.Type, e.Reason, e.InvolvedObject.Kind, e.Count, e.Message)
	}
	return s
}

// newFake returns a fake clientset holding the CoreDNS Pod.
func newFake() *fake.Clientset {
	return fake.NewClientset(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: testPod, Namespace: testNS, UID: testUID}})
}

// reload replaces inst with a new instance from contents, as the reload plugin or SIGUSR1
// does: the new one starts before the old one shuts down.
func reload(t testing.TB, inst *caddy.Instance, contents string) *caddy.Instance {
	t.Helper()
	next, err := tryReload(t, inst, contents)
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	return next
}

// tryReload is reload for a configuration that may fail, under a watchdog. It returns
// once the instance that serves in the end (the new one, or inst if the reload failed
// before the new one could serve) does.
func tryReload(t testing.TB, inst *caddy.Instance, contents string) (*caddy.Instance, error) {
	t.Helper()
	next, err := restart(t, inst, contents)
	if err == nil {
		serving(t, next)
	}
	return next, err
}

// restart is inst.Restart under a watchdog, the servers of inst woken meanwhile (wake).
func restart(t testing.TB, inst *caddy.Instance, contents string) (*caddy.Instance, error) {
	defer watchdog(t, "a reload")()
	defer wake(inst)()
	return inst.Restart(input(contents))
}

// stopInstance stops inst's servers, under a watchdog.
func stopInstance(t testing.TB, inst *caddy.Instance) {
	defer watchdog(t, "stopping an instance")()
	defer wake(inst)()
	inst.Stop()
}

// hangAfter is how long a reload or a stop may take before the watchdog ends the tests.
const hangAfter = 10 * time.Second

// watchdog ends the test binary, every goroutine's stack printed, if the call it guards
// has not returned (the func it returns not called) within hangAfter: a reload stuck in
// a server's Stop would otherwise hang the tests, with no stack, until go test's timeout.
func watchdog(t testing.TB, what string) (stop func()) {
	timer := time.AfterFunc(hangAfter, func() {
		buf := make([]byte, 64<<20)
		buf = buf[:runtime.Stack(buf, true)]
		fmt.Fprintf(os.Stderr, "%s: %s did not return within %s; every goroutine:\n%s\n", t.Name(), what, hangAfter, buf)
		panic(fmt.Sprintf("%s: %s hung for %s", t.Name(), what, hangAfter))
	})
	return func() { timer.Stop() }
}

// fakeAPI makes a fresh fake API, holding the test Pod, every server block's kubeapi
// client in a new process pipeline, reporting on the test Pod with or without its UID.
func fakeAPI(t testing.TB, withUID bool) *fake.Clientset {
	t.Helper()
	client := newFake()
	usePipeline(t, testOptions(client, withUID))
	return client
}

// reporting tells whether the process's pipeline has settings in effect.
func reporting() bool {
	process.Lock()
	defer process.Unlock()
	return process.p != nil && process.p.listener.settings.Load() != nil
}
