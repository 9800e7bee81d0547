package k8s_event

import (
	"testing"

	"github.com/coredns/caddy"
	corev1 "k8s.io/api/core/v1"
)

// The first event of a process that looks its Pod's UID up carries the UID: a write
// waits for the first lookup, and must find its result stored when it goes on.
func TestFirstEventAfterLookupCarriesUID(t *testing.T) {
	for i := range 300 {
		client := newFake()
		opts := testOptions(client, false)
		p := usePipeline(t, opts)
		cfg, err := parse(caddy.NewTestController("dns", "k8s_event"))
		if err != nil {
			t.Fatal(err)
		}
		p.use(newSettings(cfg, client, nil, opts))
		p.listener.Error("plugin/errors: ", "first line")
		evs := eventuallyEvents(t, client, testNS, "the first event", func(evs []corev1.Event) bool { return len(evs) == 1 })
		if uid := evs[0].InvolvedObject.UID; uid != testUID {
			t.Fatalf("try %d: the first event's UID is %q, want %q", i, uid, testUID)
		}
		p.stop()
	}
}
