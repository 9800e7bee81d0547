package k8s_event

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coredns/caddy"
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// Loggers of real plugins, as CoreDNS's own code creates them.
var (
	errorsLog = clog.NewWithPlugin("errors")
	reloadLog = clog.NewWithPlugin("reload")
	kubeLog   = clog.NewWithPlugin("kubernetes")
)

// wantEvent is the event a line should become, annotated with the plugin its message
// names; Name and timestamps are checked apart.
func wantEvent(ref corev1.ObjectReference, reason, typ, msg string) corev1.Event {
	ns := ref.Namespace
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	var ann map[string]string
	source := "CoreDNS"
	if rest, ok := strings.CutPrefix(msg, "plugin/"); ok {
		name, _, _ := strings.Cut(rest, ":")
		ann = map[string]string{"coredns.io/plugin": name}
		source += "/" + name
	}
	return corev1.Event{
		ObjectMeta:          metav1.ObjectMeta{Namespace: ns, Annotations: ann},
		InvolvedObject:      ref,
		Reason:              reason,
		Message:             msg,
		Count:               1,
		Type:                typ,
		Source:              corev1.EventSource{Component: source, Host: testNode},
		ReportingController: "CoreDNS",
		ReportingInstance:   testNode,
	}
}

var ignoreGenerated = cmpopts.IgnoreFields(corev1.Event{}, "TypeMeta", "ObjectMeta.Name", "ObjectMeta.ResourceVersion", "ObjectMeta.ManagedFields", "FirstTimestamp", "LastTimestamp")

func checkEvent(t *testing.T, got, want corev1.Event) {
	t.Helper()
	if diff := cmp.Diff(want, got, ignoreGenerated); diff != "" {
		t.Errorf("event mismatch (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(got.Name, want.InvolvedObject.Name+".") || got.FirstTimestamp.IsZero() || got.LastTimestamp.IsZero() {
		t.Errorf("event name %q or timestamps (%v, %v) not set as client-go sets them", got.Name, got.FirstTimestamp, got.LastTimestamp)
	}
}

var podRef = corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Name: testPod, Namespace: testNS, UID: testUID}

func TestEventObject(t *testing.T) {
	long := strings.Repeat("é", 600) // 1200 bytes, each rune two bytes
	tests := []struct {
		name    string
		withUID bool
		log     func()
		want    corev1.Event
	}{
		{"error with % kept", true, func() { errorsLog.Errorf("%d %s: %s", 2, "100%.example.org. A", "read udp: i/o timeout %d") },
			wantEvent(podRef, "CoreDNSError", "Warning", "plugin/errors: 2 100%.example.org. A: read udp: i/o timeout %d")},
		{"UID looked up", false, func() { reloadLog.Info("Running configuration SHA512 = abc\n") },
			wantEvent(podRef, "CoreDNSInfo", "Normal", "plugin/reload: Running configuration SHA512 = abc")},
		{"warning", true, func() { kubeLog.Warningf("watch of %s ended: %v", "*v1.Service", errors.New("very short watch")) },
			wantEvent(podRef, "CoreDNSWarning", "Warning", "plugin/kubernetes: watch of *v1.Service ended: very short watch")},
		{"multi-byte truncation", true, func() { errorsLog.Error(long) },
			wantEvent(podRef, "CoreDNSError", "Warning", "plugin/errors: "+long[:1024-len(" [truncated]")-len("plugin/errors: ")-1]+" [truncated]")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := newFake()
			p := usePipeline(t, testOptions(client, tc.withUID))
			inst := startCoreDNS(t, corefile("k8s_event {\n level info warning error\n }"))
			defer stopCoreDNS(t, inst)
			if !tc.withUID {
				waitReference(t, p)
			}

			tc.log()
			evs := eventuallyEvents(t, client, testNS, "one event", func(evs []corev1.Event) bool { return len(evs) == 1 })
			checkEvent(t, evs[0], tc.want)
			if len(evs[0].Message) > maxMessageBytes {
				t.Errorf("message is %d bytes, more than %d", len(evs[0].Message), maxMessageBytes)
			}
		})
	}
}

// waitReference waits until p's involved object is final.
func waitReference(t *testing.T, p *pipeline) {
	t.Helper()
	select {
	case <-p.ref.done:
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for the Pod reference")
	}
}

func TestReferenceWithoutUIDWhenLookupFails(t *testing.T) {
	client := fake.NewClientset() // the Pod does not exist
	usePipeline(t, testOptions(client, false))
	inst := startCoreDNS(t, corefile("k8s_event"))
	defer stopCoreDNS(t, inst)

	errorsLog.Error("upstream down")
	evs := eventuallyEvents(t, client, testNS, "one event", func(evs []corev1.Event) bool { return len(evs) == 1 })
	ref := podRef
	ref.UID = ""
	checkEvent(t, evs[0], wantEvent(ref, "CoreDNSError", "Warning", "plugin/errors: upstream down"))
}

func TestReferenceFallbackToDefaultNamespace(t *testing.T) {
	client := newFake()
	opts := testOptions(client, false)
	opts.identity = identity{nodeName: testNode}
	usePipeline(t, opts)
	inst := startCoreDNS(t, corefile("k8s_event"))
	defer stopCoreDNS(t, inst)

	errorsLog.Error("upstream down")
	evs := eventuallyEvents(t, client, metav1.NamespaceDefault, "one event", func(evs []corev1.Event) bool { return len(evs) == 1 })
	want := wantEvent(corev1.ObjectReference{Kind: "Namespace", APIVersion: "v1", Name: "default"}, "CoreDNSError", "Warning", "plugin/errors: upstream down")
	checkEvent(t, evs[0], want)
}

func TestFilters(t *testing.T) {
	tests := []struct {
		name   string
		stanza string
		want   []string
	}{
		{"default levels", "k8s_event", []string{"plugin/errors: e", "plugin/kubernetes: w", "plugin/reload: e"}},
		{"info only", "k8s_event {\n level info\n }", []string{"plugin/reload: i"}},
		{"plugins", "k8s_event {\n level info warning error\n plugins reload\n }", []string{"plugin/reload: e", "plugin/reload: i"}},
		{"except", "k8s_event {\n level info warning error\n except errors\n }", []string{"plugin/kubernetes: w", "plugin/reload: e", "plugin/reload: i"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := fakeAPI(t, true)
			inst := startCoreDNS(t, corefile(tc.stanza))
			defer stopCoreDNS(t, inst)

			errorsLog.Error("e")
			kubeLog.Warning("w")
			reloadLog.Info("i")
			reloadLog.Error("e")
			clog.Error("a line of no plugin is never reported")
			clog.NewWithPlugin(pluginName).Error("nor one of k8s_event itself")

			evs := stopAndList(t, inst, client)
			var got []string
			for _, e := range evs {
				got = append(got, e.Message)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("reported messages (-want +got):\n%s", diff)
			}
		})
	}
}

// stopAndList stops inst, which writes what is queued, then lists the events.
func stopAndList(t *testing.T, inst interface{ ShutdownCallbacks() []error }, client *fake.Clientset) []corev1.Event {
	t.Helper()
	if errs := inst.ShutdownCallbacks(); len(errs) > 0 {
		t.Fatalf("shutdown: %v", errs)
	}
	return events(t, client, testNS)
}

func TestTwoServerBlocksOneEventPerLine(t *testing.T) {
	client := fakeAPI(t, true)
	stanza := "k8s_event {\n level error\n }"
	inst := startCoreDNS(t, corefile(stanza, stanza))
	defer stopCoreDNS(t, inst)

	for i := range 3 {
		errorsLog.Errorf("line %d", i)
	}
	evs := stopAndList(t, inst, client)
	for i := range 3 {
		msg := fmt.Sprintf("plugin/errors: line %d", i)
		if n, count := countMessage(evs, msg); n != 1 || count != 1 {
			t.Errorf("%q: %d events with total count %d, want exactly one", msg, n, count)
		}
	}
}

func TestDifferentSettingsInTwoBlocks(t *testing.T) {
	fakeAPI(t, true)
	_, err := startCoreDNSErr(corefile("k8s_event {\n level error\n }", "k8s_event {\n level info\n }"))
	if err == nil {
		t.Fatal("expected a startup error")
	}
	for _, want := range []string{"plugin/k8s_event", `"dns://example0.org.:0"`, `"dns://example1.org.:0"`, "level error;", "level info;"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestWithoutKubeAPI(t *testing.T) {
	opts := defaultOptions()
	opts.identity = testIdentity(true)
	p := usePipeline(t, opts)
	_, err := startCoreDNSErr("example.org:0 {\n k8s_event\n}")
	if err == nil {
		t.Fatal("expected a startup error")
	}
	for _, want := range []string{"plugin/k8s_event", `"dns://example.org.:0"`, "add kubeapi"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if p.client.load() != nil {
		t.Error("the pipeline has a client after a failed start")
	}
}

func startCoreDNSErr(contents string) (*caddy.Instance, error) {
	inst, err := caddy.Start(input(contents))
	if err == nil {
		inst.ShutdownCallbacks()
		inst.Stop()
	}
	return inst, err
}

func TestSinkErrorsNeverBecomeEvents(t *testing.T) {
	client := newFake()
	var creates atomic.Int32
	client.PrependReactor("create", "events", func(k8stesting.Action) (bool, k8sruntime.Object, error) {
		creates.Add(1)
		return true, nil, apiForbidden()
	})
	usePipeline(t, testOptions(client, true))
	// Every plugin, every level: a delivery failure reported anywhere would come back.
	inst := startCoreDNS(t, corefile("k8s_event {\n level debug info warning error\n rate 1 256\n }"))
	errorsLog.Error("first")
	errorsLog.Error("second")
	if errs := inst.ShutdownCallbacks(); len(errs) > 0 {
		t.Fatalf("shutdown: %v", errs)
	}
	stopInstance(t, inst)
	if got := creates.Load(); got != 2 {
		t.Errorf("%d create calls, want 2: one per line and none for the failures", got)
	}
}

func apiForbidden() error {
	return apierrors.NewForbidden(schema.GroupResource{Resource: "events"}, "", errors.New("no rule"))
}

func TestEventAPIWaitsForNothing(t *testing.T) {
	// With an API that never answers, log calls return at once and shutdown is bounded.
	client := newFake()
	release := make(chan struct{})
	client.PrependReactor("create", "events", func(k8stesting.Action) (bool, k8sruntime.Object, error) {
		<-release
		return true, nil, errors.New("gave up")
	})
	defer close(release)
	opts := testOptions(client, true)
	opts.flushTimeout = 200 * time.Millisecond
	usePipeline(t, opts)
	inst := startCoreDNS(t, corefile("k8s_event {\n rate 1 256\n }"))

	start := time.Now()
	for i := range 10000 {
		errorsLog.Errorf("line %d", i)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("10000 log calls took %s while the API hangs", d)
	}
	start = time.Now()
	stopCoreDNS(t, inst)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("shutdown took %s with a hung API, want it bounded by the flush timeout", d)
	}
}

func TestMetricsCountEveryLine(t *testing.T) {
	client := fakeAPI(t, true)
	lines := testutil.ToFloat64(linesCount.WithLabelValues("error"))
	limited := testutil.ToFloat64(droppedCount.WithLabelValues(dropRateLimited))
	created := testutil.ToFloat64(writesCount.WithLabelValues("create", "success"))

	inst := startCoreDNS(t, corefile("k8s_event {\n rate 1/3600 3\n }"))
	for i := range 10 {
		errorsLog.Errorf("line %d", i)
	}
	reloadLog.Info("not selected, not counted")
	stopAndList(t, inst, client)
	stopInstance(t, inst)

	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"lines_total{level=error}", testutil.ToFloat64(linesCount.WithLabelValues("error")) - lines, 10},
		{"dropped_total{reason=rate_limited}", testutil.ToFloat64(droppedCount.WithLabelValues(dropRateLimited)) - limited, 7},
		{"api_writes_total{verb=create,result=success}", testutil.ToFloat64(writesCount.WithLabelValues("create", "success")) - created, 3},
	} {
		if c.got != c.want {
			t.Errorf("%s grew by %v, want %v", c.name, c.got, c.want)
		}
	}
}
