package node

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/coredns/k8s_event/internal/devenv"
)

// TestRolloutRestart: after kubectl rollout restart the new Pods report under their own
// names and UIDs, and a line an old Pod logs while it shuts down (the *health* plugin's
// lame duck keeps it serving) is still reported, on the old Pod.
//
// The query of the lame duck fails in a zone of its own whose *errors* has no plugin
// after it, not in *forward*: forward's shutdown, before the lame duck, stops its
// connections, and before CoreDNS 1.15 it then retries a query until its 5 s deadline, as
// long as kubeadm's lame duck, so its line comes after the reporting ended
// (docs/operations.md). Its rate settings are new, so that the lines of the earlier tests
// have not emptied the old Pods' token bucket (a rate change starts a full one). The
// line is looked for in what the API server stored (eventWrites), not in a list made
// after: the old Pod's failing loop probes have made more than ten similar errors lines,
// which client-go combines into one event that the next line's message overwrites.
func TestRolloutRestart(t *testing.T) {
	setUp(t)
	readyPods(t)
	restoreCorefile(t)
	corefile := withK8sEvent(t, suite.corefile, "k8s_event {\n        rate 1 256\n    }") + lameDuckZone
	// A longer lame duck than kubeadm's 5 s, within the Pod's 30 s grace period: on a
	// loaded machine the container log that says it began is read seconds late.
	if !strings.Contains(corefile, "lameduck 5s") {
		t.Fatalf("kubeadm's Corefile has no \"lameduck 5s\":\n%s", corefile)
	}
	corefile = strings.Replace(corefile, "lameduck 5s", "lameduck 15s", 1)
	if err := setCorefile(timeout(t, 3*time.Minute), corefile); err != nil {
		t.Fatalf("%v\n%s", err, diagnose(timeout(t, time.Minute)))
	}
	old := readyPods(t)
	ctx := timeout(t, 3*time.Minute)
	if _, err := suite.node.Kubectl(ctx, "-n", namespace, "rollout", "restart", "deployment/"+deployment); err != nil {
		t.Fatal(err)
	}
	// An old Pod that is terminating still answers during its lame duck: once it says it
	// is in it, a failing query makes it log a line, which must still be reported.
	terminating, err := waitTerminating(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		log, err := suite.node.ContainerLog(terminating, "coredns")
		return err == nil && strings.Contains(log, "Going into lameduck mode"), nil
	})
	if err != nil {
		t.Fatalf("the terminating Pod %s did not go into its lame duck: %v", terminating.Name, err)
	}
	lameDuck := lameDuckName(t)
	lastSeen := watchLameDuck(ctx, terminating)
	writes, err := watchEventWrites(ctx, terminating)
	if err != nil {
		t.Fatal(err)
	}
	failQuery(t, terminating, lameDuck)

	fresh := readyPods(t)
	for _, p := range fresh {
		if slices.ContainsFunc(old, func(o corev1.Pod) bool { return o.UID == p.UID }) {
			t.Fatalf("Pod %s (%s) was not replaced", p.Name, p.UID)
		}
	}
	for _, p := range fresh {
		name := lameDuckName(t)
		failQuery(t, &p, name)
		waitEvent(t, &p, "CoreDNSError", name, time.Minute)
	}
	defer func() {
		if t.Failed() {
			t.Logf("the old Pod %s during its lame duck, as last seen:\n%s", terminating.Name, lastSeen())
		}
	}()
	if err := writes.wait("CoreDNSError", lameDuck, time.Minute); err != nil {
		t.Fatal(err)
	}
}

// eventWrites are the versions of the events on a Pod that the API server stored, as a
// watch delivers them: by then the Pod has logged more lines, and client-go's correlator
// may have combined its line with ten similar ones into one event, whose message is the
// latest line's, so that a list finds the line only until the next one.
type eventWrites struct {
	mu   sync.Mutex
	seen []corev1.Event
	pod  *corev1.Pod
	err  error
}

// watchEventWrites watches the events on pod until ctx ends.
func watchEventWrites(ctx context.Context, pod *corev1.Pod) (*eventWrites, error) {
	events := suite.client.CoreV1().Events(pod.Namespace)
	selector := fields.OneTermEqualSelector("involvedObject.name", pod.Name).String()
	list, err := events.List(ctx, metav1.ListOptions{FieldSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("listing the events of %s: %w", pod.Name, err)
	}
	w := &eventWrites{pod: pod, seen: list.Items}
	rv := list.ResourceVersion
	go func() {
		for ctx.Err() == nil {
			wi, err := events.Watch(ctx, metav1.ListOptions{FieldSelector: selector, ResourceVersion: rv})
			if err != nil {
				w.mu.Lock()
				w.err = err
				w.mu.Unlock()
				time.Sleep(time.Second)
				continue
			}
			for ev := range wi.ResultChan() {
				e, ok := ev.Object.(*corev1.Event)
				if !ok {
					continue
				}
				rv = e.ResourceVersion
				if ev.Type == watch.Added || ev.Type == watch.Modified {
					w.mu.Lock()
					w.seen = append(w.seen, *e)
					w.mu.Unlock()
				}
			}
		}
	}()
	return w, nil
}

// wait waits until a version of an event of reason on the Pod (name and UID) whose
// message contains substr was stored.
func (w *eventWrites) wait(reason, substr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		w.mu.Lock()
		found := slices.ContainsFunc(w.seen, func(e corev1.Event) bool {
			return e.InvolvedObject.UID == w.pod.UID && e.Reason == reason && strings.Contains(e.Message, substr)
		})
		seen, err := slices.Clone(w.seen), w.err
		w.mu.Unlock()
		if found {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no %s event containing %q stored on %s within %s (last watch error: %v); the versions stored:\n%s",
				reason, substr, w.pod.Name, d, err, devenv.FormatEvents(seen))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// watchLameDuck scrapes pod's k8s_event metrics and reads its container log every 100 ms
// until its metrics stop answering (at most a minute); the func it returns gives the last
// of both, for a failure message: they show whether a line was counted and how it ended.
func watchLameDuck(ctx context.Context, pod *corev1.Pod) func() string {
	var mu sync.Mutex
	var metrics, log string
	go func() {
		for range 600 {
			m, err := devenv.ScrapeMetricsWith(ctx, metricsClient, pod.Status.PodIP+":9153")
			if err != nil {
				return
			}
			var keep []string
			for k, v := range m {
				if strings.HasPrefix(k, "coredns_k8s_event_") {
					keep = append(keep, fmt.Sprintf("%s %v", k, v))
				}
			}
			slices.Sort(keep)
			lg, _ := suite.node.ContainerLog(pod, "coredns")
			mu.Lock()
			metrics = fmt.Sprintf("metrics at %s:\n%s", time.Now().Format(time.RFC3339Nano), strings.Join(keep, "\n"))
			log = lg
			mu.Unlock()
			time.Sleep(100 * time.Millisecond)
		}
	}()
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		ls := strings.Split(log, "\n")
		if len(ls) > 60 {
			ls = ls[len(ls)-60:]
		}
		return metrics + "\nlog:\n" + strings.Join(ls, "\n")
	}
}

// lameDuckName is a name no other test queries, in lameDuckZone: a query for it fails at
// once, where one that *forward* sends to nowhere may outlast the client's wait before
// CoreDNS 1.15 (it retries until its 5 s deadline).
func lameDuckName(t *testing.T) string {
	return strings.TrimSuffix(uniqueName(t), "example.org.") + "lameduck.test."
}

// lameDuckZone is a server block whose queries fail at once in *errors*, which logs them:
// no plugin comes after it.
const lameDuckZone = "lameduck.test:53 {\n    errors\n}\n"

// waitTerminating waits until one of pods is terminating and returns it, as it is then.
func waitTerminating(ctx context.Context, pods []corev1.Pod) (*corev1.Pod, error) {
	uids := map[types.UID]bool{}
	for _, p := range pods {
		uids[p.UID] = true
	}
	var found *corev1.Pod
	err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		list, err := suite.client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: "k8s-app=kube-dns"})
		if err != nil {
			return false, nil
		}
		for _, p := range list.Items {
			if uids[p.UID] && p.DeletionTimestamp != nil {
				found = &p
				return true, nil
			}
		}
		return false, nil
	})
	return found, err
}
