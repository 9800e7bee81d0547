package k8s_event

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A combined event deleted from the API is created again by the next similar line, with
// Count 2 and the first timestamp client-go's correlator noted when it combined the
// lines: here 5 minutes after they were logged, as when the backlog held them while the
// sink retried earlier lines. Created again, its first and last timestamps are still
// when its line was logged, as the README says of every event: never later.
func TestRecreatedCombinedEventStampedWhenItsLineWasLogged(t *testing.T) {
	p, clk, client := newTestPipeline(t, "k8s_event {\n rate 1 256\n}")
	// The recorder stamps lines with the real time, the correlator with clk: 5 minutes
	// late, the delay of a busy backlog.
	clk.Step(5 * time.Minute)
	loggedFrom := time.Now()
	for i := range 10 {
		p.listener.Errorf("plugin/errors: ", "%d example.org. A: i/o timeout", i)
	}
	combined := func(evs []corev1.Event) *corev1.Event {
		for i := range evs {
			if strings.HasPrefix(evs[i].Message, combinedPrefix) {
				return &evs[i]
			}
		}
		return nil
	}
	first := combined(eventuallyEvents(t, client, testNS, "the combined event", func(evs []corev1.Event) bool { return combined(evs) != nil }))
	if err := client.CoreV1().Events(testNS).Delete(context.Background(), first.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting the combined event: %v", err)
	}
	p.listener.Errorf("plugin/errors: ", "%d example.org. A: i/o timeout", 10)
	again := combined(eventuallyEvents(t, client, testNS, "the combined event created again", func(evs []corev1.Event) bool { return combined(evs) != nil }))
	loggedBy := time.Now()

	if again.Count != 2 {
		t.Errorf("the combined event created again counts %d, want 2", again.Count)
	}
	for _, ts := range []struct {
		name string
		at   time.Time
	}{{"first", again.FirstTimestamp.Time}, {"last", again.LastTimestamp.Time}} {
		if ts.at.Before(loggedFrom.Truncate(time.Second)) || ts.at.After(loggedBy) {
			t.Errorf("the combined event created again has its %s timestamp %s after the lines were first logged, want between 0 and %s: when its line was logged",
				ts.name, ts.at.Sub(loggedFrom).Round(time.Millisecond), loggedBy.Sub(loggedFrom).Round(time.Millisecond))
		}
	}
	if again.FirstTimestamp.After(again.LastTimestamp.Time) {
		t.Errorf("first timestamp %s after the last, %s", again.FirstTimestamp, again.LastTimestamp)
	}
}
