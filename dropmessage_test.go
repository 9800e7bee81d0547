package k8s_event

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

// Within one minute: the patch of a deleted event (client-go creates it again: nothing
// lost), a create retried once (a transient failure), then a line the API refuses. The
// one drop is printed, whatever was printed before it in the minute: a message about a
// line that was not dropped neither claims a drop nor holds the real one back.
func TestOnlyARealDropIsPrintedAsOne(t *testing.T) {
	var out printed
	p, clk, client := newTestPipeline(t, "k8s_event {\n rate 1 10\n}", func(o *options) {
		o.log = newSelfLog(time.Minute)
		o.log.print = out.print
	})
	tries := map[string]int{}
	client.PrependReactor("create", "events", func(a k8stesting.Action) (bool, k8sruntime.Object, error) {
		msg := a.(k8stesting.CreateAction).GetObject().(*corev1.Event).Message
		tries[msg]++ // the sink writes one event at a time
		switch {
		case strings.HasSuffix(msg, "retried") && tries[msg] == 1:
			return true, nil, statusError(http.StatusServiceUnavailable)
		case strings.HasSuffix(msg, "refused"):
			return true, nil, statusError(http.StatusBadRequest)
		}
		return false, nil, nil
	})
	done := func() bool { return p.backlog.pending() == 0 }

	p.listener.Error("plugin/errors: ", "repeated")
	stepUntilDone(t, clk, time.Second, done)
	evs := events(t, client, testNS)
	if len(evs) != 1 {
		t.Fatalf("want the first event, got %s", describe(evs))
	}
	if err := client.CoreV1().Events(testNS).Delete(context.Background(), evs[0].Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	before := readOutcomes()
	p.listener.Error("plugin/errors: ", "repeated")
	stepUntilDone(t, clk, time.Second, done)
	p.listener.Error("plugin/errors: ", "retried")
	stepUntilDone(t, clk, time.Second, done)
	p.listener.Error("plugin/errors: ", "refused")
	stepUntilDone(t, clk, time.Second, done)

	if got, want := readOutcomes().since(before), (outcomes{outcomeCreated: 2, dropRejected: 1}); got.String() != want.String() {
		t.Fatalf("outcomes %s, want %s", got, want)
	}
	var drops []string
	for _, line := range out.all() {
		if strings.Contains(line, "dropped") {
			drops = append(drops, line)
		}
	}
	if len(drops) != 1 || !strings.Contains(drops[0], "bad event") {
		t.Errorf("printed drops %q, want the one of the refused line (400 bad event); all printed: %q", drops, out.all())
	}
	if got := out.all(); len(got) != 2 {
		t.Errorf("printed %q, want 2 messages: the retry, and the drop", got)
	}
}

// A line the API refuses is printed once, by the sink: client-go's recorder, to which
// the sink returns the refusal, does not print it again.
func TestADropIsPrintedOnce(t *testing.T) {
	var out printed
	p, clk, client := newTestPipeline(t, "k8s_event", func(o *options) {
		o.log = newSelfLog(time.Minute)
		o.log.print = out.print
	})
	failFirst(client, 1, statusError(http.StatusBadRequest))
	p.listener.Error("plugin/errors: ", "refused")
	stepUntilDone(t, clk, time.Second, func() bool { return p.backlog.pending() == 0 })
	p.stop() // client-go's recorder has returned from the sink
	if got := out.all(); len(got) != 1 || !strings.HasPrefix(got[0], "event dropped: ") {
		t.Errorf("printed %q, want one message, the drop", got)
	}
}

// A line the API never took within its 15 minutes is printed as a drop, with why: an
// operator reading CoreDNS's log learns that an event is lost, not only that writes
// were being retried.
func TestLineOutOfTimeIsPrintedAsADrop(t *testing.T) {
	var out printed
	p, clk, client := newTestPipeline(t, "k8s_event", func(o *options) {
		o.log = newSelfLog(time.Minute)
		o.log.print = out.print
	})
	apiOutage(client)
	before := readOutcomes()
	p.listener.Error("plugin/errors: ", "upstream down")
	stepUntilDone(t, clk, 30*time.Second, func() bool { return p.backlog.pending() == 0 })
	if got, want := readOutcomes().since(before), (outcomes{dropRetriesExhausted: 1}); got.String() != want.String() {
		t.Fatalf("outcomes %s, want %s", got, want)
	}
	var drops []string
	for _, line := range out.all() {
		if strings.HasPrefix(line, "event dropped: ") {
			drops = append(drops, line)
		}
	}
	if len(drops) != 1 || !strings.Contains(drops[0], "not written within 15m0s of being logged") || !strings.Contains(drops[0], "connection refused") {
		t.Errorf("printed drops %q, want one saying the line was not written within 15m0s, and the API's last failure; all printed: %q", drops, out.all())
	}
}
