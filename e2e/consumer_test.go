//go:build consumer

package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// consumerOutage is how long TestOTelCollector keeps kube-apiserver down.
const consumerOutage = 150 * time.Second

// TestOTelCollector: a real consumer of the events, the OpenTelemetry Collector's
// k8sevents receiver, watching kube-system as operators run it to ship events to a log
// store. It receives the loop plugin's fatal event, written as CoreDNS exits; every
// update of a repeated line's event, each with its count (which a consumer of additions
// only, like kubernetes-event-exporter, never sees: the API's watch says ADDED once and
// MODIFIED for the rest); and, once kube-apiserver is back after 150 s down, the line
// logged meanwhile, stamped with when it was logged.
func TestOTelCollector(t *testing.T) {
	t.Parallel()
	cl := startOwnCluster(t)
	oc := startOtelcol(t, cl, "kube-system")
	watched := watchEventTypes(t, cl)

	// The receiver drops events stamped before its start, to the second as the API
	// stores them, and watches once its informer has listed: probes written every 2 s
	// tell when it receives.
	// Waiting for it is set-up: as long as the machine needs.
	probe := cl.newPod(t)
	setUp(t, "the collector receiving a probe event (one every 2 s)", func(ctx context.Context) error {
		for i := 0; ; i++ {
			ev := &corev1.Event{
				ObjectMeta:     metav1.ObjectMeta{GenerateName: "probe.", Namespace: probe.Namespace},
				InvolvedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: probe.Namespace, Name: probe.Name, UID: probe.UID},
				Reason:         "Probe", Message: fmt.Sprintf("probe %d", i), Type: corev1.EventTypeNormal,
				LastTimestamp: metav1.Now(), FirstTimestamp: metav1.Now(), Count: 1,
			}
			if _, err := cl.cp.AdminClient().CoreV1().Events(probe.Namespace).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
				return err
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%d probes sent, none received: %w", i+1, ctx.Err())
			case err := <-oc.exited:
				return fmt.Errorf("the collector exited: %v", err)
			case <-time.After(2 * time.Second):
			}
			if len(recordsOf(oc.records(t), probe.Name, "probe ")) > 0 {
				t.Logf("the collector received probe %d", i)
				return nil
			}
		}
	})

	t.Run("fatal", func(t *testing.T) {
		pod := cl.newPod(t)
		c := launchLoop(t, cl.kubeapi(), podEnv(pod, true), "level fatal")
		waitFatalExit(t, c, fatalExitTimeout)
		msg := fatalMessage(t, c)
		recs := oc.wait(t, 30*time.Second, "the fatal event at the collector", func(recs []otelRecord) bool {
			return len(recordsOf(recs, pod.Name, msg)) > 0
		})
		got := recordsOf(recs, pod.Name, msg)
		evs := cl.events(t, pod)
		if len(got) != 1 || got[0].Reason != reasonFatal || got[0].Attrs["k8s.object.uid"] != string(pod.UID) || len(evs) != 1 {
			t.Fatalf("want one record of the %s event on Pod %s (UID %s), got %+v; the API has:\n%s", reasonFatal, pod.Name, pod.UID, got, devenv.FormatEvents(evs))
		}
		checkEvent(t, evs[0], pod, reasonFatal)
		// The receiver (v0.111.0) keeps the message, reason, type, count, the object and
		// the source host, not the source component: the plugin's name reaches the
		// consumer in the message, which starts with it.
		t.Logf("fatal event %s (source %s on %s) arrived as %q with attributes %v", evs[0].Name, evs[0].Source.Component, evs[0].Source.Host, got[0].Message, got[0].Attrs)
		if !strings.HasPrefix(got[0].Message, "plugin/loop: ") {
			t.Errorf("message %q: want it to name the plugin", got[0].Message)
		}
		if got[0].Attrs["k8s.node.name"] != evs[0].Source.Host {
			t.Errorf("k8s.node.name %q, want the source host %q", got[0].Attrs["k8s.node.name"], evs[0].Source.Host)
		}
		for k, v := range got[0].Attrs {
			if v == evs[0].Source.Component {
				t.Errorf("the receiver keeps the source component, as %s: docs/operations.md says it does not", k)
			}
		}
	})

	t.Run("repeated line", func(t *testing.T) {
		pod := cl.newPod(t)
		evs, msg, printed := repeatReloadWarning(t, cl, pod)
		if len(evs) != 1 {
			t.Fatalf("want one event, got:\n%s", devenv.FormatEvents(evs))
		}
		recs := oc.wait(t, 30*time.Second, fmt.Sprintf("a record with count %d", printed), func(recs []otelRecord) bool {
			r := recordsOf(recs, pod.Name, msg)
			return len(r) > 0 && r[len(r)-1].Count == printed
		})
		var counts []int
		for _, r := range recordsOf(recs, pod.Name, msg) {
			counts = append(counts, r.Count)
		}
		added, modified := watched.count(evs[0].Name)
		t.Logf("%d warnings: one event, count %d; the API's watch: %d ADDED, %d MODIFIED; the collector's records: counts %v",
			printed, evs[0].Count, added, modified, counts)
		if len(counts) != printed || added != 1 || modified != printed-1 {
			t.Errorf("want a record per write (%d) and a watch of 1 ADDED and %d MODIFIED, got counts %v, %d ADDED, %d MODIFIED",
				printed, printed-1, counts, added, modified)
		}
		for i, n := range counts {
			if n != i+1 {
				t.Errorf("record %d: count %d, want %d", i, n, i+1)
			}
		}
	})

	t.Run("outage", func(t *testing.T) {
		pod := cl.newPod(t)
		c, addr := startFailingUpstream(t, cl, podEnv(pod, true), k8sEventDirective())
		if err := cl.cp.StopAPIServer(); err != nil {
			t.Fatal(err)
		}
		down := time.Now()
		time.Sleep(consumerOutage / 2)
		logged := time.Now()
		failQuery(t, addr, "during-outage.example.org.")
		msg := loggedMessage(t, c, "ERROR", "during-outage.example.org.")
		time.Sleep(time.Until(down.Add(consumerOutage)))
		setUp(t, "restarting kube-apiserver", cl.cp.StartAPIServer)
		up := time.Now()
		recs := oc.wait(t, 2*time.Minute, "the line logged during the outage at the collector", func(recs []otelRecord) bool {
			return len(recordsOf(recs, pod.Name, msg)) > 0
		})
		r := recordsOf(recs, pod.Name, msg)[0]
		t.Logf("API server down %v; the line logged %v into it arrived at the collector %v after it was back, stamped %v",
			up.Sub(down).Round(time.Second), logged.Sub(down).Round(time.Second), time.Since(up).Round(time.Second), r.Timestamp)
		if d := r.Timestamp.Sub(logged); d < -time.Second || d > 5*time.Second {
			t.Errorf("record stamped %v, the line was logged %v: want when it was logged", r.Timestamp, logged)
		}
	})
}

// eventWatch counts the API's watch notifications of kube-system's events, by event
// name and type: what any consumer's informer receives.
type eventWatch struct {
	mu    sync.Mutex
	types map[string]map[watch.EventType]int
}

// watchEventTypes watches kube-system's events as the admin until t ends.
func watchEventTypes(t *testing.T, cl *cluster) *eventWatch {
	t.Helper()
	w, err := cl.cp.AdminClient().CoreV1().Events("kube-system").Watch(timeout(t, time.Hour), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ew := &eventWatch{types: map[string]map[watch.EventType]int{}}
	go func() {
		for e := range w.ResultChan() {
			ev, ok := e.Object.(*corev1.Event)
			if !ok {
				continue
			}
			ew.mu.Lock()
			if ew.types[ev.Name] == nil {
				ew.types[ev.Name] = map[watch.EventType]int{}
			}
			ew.types[ev.Name][e.Type]++
			ew.mu.Unlock()
		}
	}()
	t.Cleanup(w.Stop)
	return ew
}

// count returns how many ADDED and MODIFIED notifications event name had.
func (ew *eventWatch) count(name string) (added, modified int) {
	ew.mu.Lock()
	defer ew.mu.Unlock()
	return ew.types[name][watch.Added], ew.types[name][watch.Modified]
}
