package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// wantEvent is an event the demo waits for: its reason and a piece of its message.
type wantEvent struct {
	reason   string
	contains string
	from     string // the log line it comes from, in words, for messages
}

// waitEvents lists the demo's events until every want has one, or timeout passes.
// Events older than since do not count (on an existing cluster, earlier runs left some),
// nor, when the cluster has a Pod, events on the Pod without its UID: kubectl describe pod
// would not show those. Each want's event is printed as it is found.
func waitEvents(ctx context.Context, cl *cluster, since time.Time, wants []wantEvent, timeout time.Duration, con *console) error {
	start := time.Now()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	found := make([]bool, len(wants))
	var last []corev1.Event
	var lastErr error
	for {
		list, err := cl.admin.CoreV1().Events(cl.eventNamespace).List(ctx, metav1.ListOptions{FieldSelector: cl.eventSelector()})
		if err != nil {
			lastErr = err
		} else {
			lastErr, last = nil, list.Items
			for i, w := range wants {
				if found[i] {
					continue
				}
				if ev := findEvent(list.Items, cl, since, w); ev != nil {
					found[i] = true
					con.Say("found after %.1fs: %s", time.Since(start).Seconds(), describeEvent(ev))
				}
			}
			if !slices.Contains(found, false) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return missingEvents(cl, wants, found, last, lastErr, timeout)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func findEvent(events []corev1.Event, cl *cluster, since time.Time, w wantEvent) *corev1.Event {
	for i := range events {
		ev := &events[i]
		if ev.Reason == w.reason && strings.Contains(ev.Message, w.contains) &&
			!eventTime(ev).Before(since) && ev.InvolvedObject.UID == cl.podUID {
			return ev
		}
	}
	return nil
}

// eventTime is when an event last happened; core/v1 events keep it in one of two fields.
func eventTime(ev *corev1.Event) time.Time {
	if !ev.LastTimestamp.IsZero() {
		return ev.LastTimestamp.Time
	}
	return ev.EventTime.Time
}

func describeEvent(ev *corev1.Event) string {
	obj := ev.InvolvedObject.Kind + " " + ev.InvolvedObject.Name
	if ev.InvolvedObject.Namespace != "" {
		obj = ev.InvolvedObject.Kind + " " + ev.InvolvedObject.Namespace + "/" + ev.InvolvedObject.Name
	}
	if ev.InvolvedObject.UID != "" {
		obj += " (uid " + string(ev.InvolvedObject.UID) + ")"
	}
	return fmt.Sprintf("%s %s x%d on %s, host %q: %s", ev.Type, ev.Reason, ev.Count, obj, ev.Source.Host, ev.Message)
}

// missingEvents explains which events did not come, and what came instead.
func missingEvents(cl *cluster, wants []wantEvent, found []bool, seen []corev1.Event, listErr error, timeout time.Duration) error {
	var b strings.Builder
	fmt.Fprintf(&b, "these events did not arrive in namespace %s within %v:", cl.eventNamespace, timeout)
	for i, w := range wants {
		if !found[i] {
			fmt.Fprintf(&b, "\n  - %s containing %q (from %s)", w.reason, w.contains, w.from)
		}
	}
	if listErr != nil {
		fmt.Fprintf(&b, "\nthe last list of events failed: %v", listErr)
	}
	fmt.Fprintf(&b, "\nevents with field selector %s:", cl.eventSelector())
	if len(seen) == 0 {
		b.WriteString(" none")
	}
	for i := range seen {
		fmt.Fprintf(&b, "\n  - %s at %s", describeEvent(&seen[i]), eventTime(&seen[i]).Format(time.RFC3339))
	}
	if cl.podUID != "" {
		fmt.Fprintf(&b, "\n(only events on Pod UID %s count: without the UID, kubectl describe pod does not show them)", cl.podUID)
	}
	b.WriteString("\nlook for plugin/k8s_event warnings in the CoreDNS output above")
	return errors.New(b.String())
}
