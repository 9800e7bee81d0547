package devenv

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
)

// ListEvents lists the events in namespace ns about the object named name, oldest first.
func ListEvents(ctx context.Context, c kubernetes.Interface, ns, name string) ([]corev1.Event, error) {
	list, err := c.CoreV1().Events(ns).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("involvedObject.name", name).String(),
	})
	if err != nil {
		return nil, err
	}
	evs := list.Items
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].CreationTimestamp.Before(&evs[j].CreationTimestamp) })
	return evs, nil
}

// WaitEvents lists the events as ListEvents does until cond accepts them, and returns
// them. When ctx ends first, the error names what and shows the last list.
func WaitEvents(ctx context.Context, c kubernetes.Interface, ns, name, what string, cond func([]corev1.Event) bool) ([]corev1.Event, error) {
	var evs []corev1.Event
	var err error
	for {
		if evs, err = ListEvents(ctx, c, ns, name); err == nil && cond(evs) {
			return evs, nil
		}
		select {
		case <-ctx.Done():
			return evs, fmt.Errorf("no %s on %s/%s (%v; last list error: %v); events:\n%s", what, ns, name, ctx.Err(), err, FormatEvents(evs))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// FormatEvents renders events for a message, one per line.
func FormatEvents(evs []corev1.Event) string {
	if len(evs) == 0 {
		return "  (none)"
	}
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "  %s %s %s x%d on %s %s (uid %q), host %q: %q\n", e.Name, e.Type, e.Reason, e.Count,
			e.InvolvedObject.Kind, e.InvolvedObject.Name, e.InvolvedObject.UID, e.Source.Host, e.Message)
	}
	return b.String()
}
