package k8s_event

import (
	"net/http"
	"testing"
	"time"
)

// A fatal line's event is written through the same retries as every other line's,
// within the fatal timeout: an API server that answers 503 once, then stores it, has it
// before the log call returns.
func TestFatalRetriedWithinItsTimeout(t *testing.T) {
	client := newFake()
	opts := testOptions(client, true)
	opts.retry = backoff{initial: 50 * time.Millisecond, max: time.Second, jitter: 0.5}
	opts.fatalTimeout = 2 * time.Second
	p := startPipeline(t, opts, client, "k8s_event {\n level fatal\n}")
	calls := failFirst(client, 1, statusError(http.StatusServiceUnavailable))

	p.listener.Fatal("plugin/loop: ", "Loop detected")
	evs := events(t, client, testNS)
	if len(evs) != 1 {
		t.Fatalf("after %d create calls: %s, want the fatal event, written on its second try", calls.Load(), describe(evs))
	}
	checkEvent(t, evs[0], wantEvent(podRef, "CoreDNSFatal", "Warning", "plugin/loop: Loop detected"))
}
