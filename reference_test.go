package k8s_event

import (
	"errors"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"
)

// The first event of a process that looks its Pod's UID up carries the UID: a write
// waits for the first lookup, and must find its result stored when it goes on.
func TestFirstEventAfterLookupCarriesUID(t *testing.T) {
	for i := range 300 {
		client := newFake()
		p := startPipeline(t, testOptions(client, false), client, "k8s_event")
		p.listener.Error("plugin/errors: ", "first line")
		evs := eventuallyEvents(t, client, testNS, "the first event", func(evs []corev1.Event) bool { return len(evs) == 1 })
		if uid := evs[0].InvolvedObject.UID; uid != testUID {
			t.Fatalf("try %d: the first event's UID is %q, want %q", i, uid, testUID)
		}
		p.stop()
	}
}

// client-go's correlator tells events apart by their involved object, UID included: a
// line recorded before the lookup found the UID and the same line recorded after it are
// two events (README, "When the API server fails"), and similar lines aggregate on either
// side separately. The later event carries the UID.
func TestLineRepeatedAcrossTheUIDLookupIsTwoEvents(t *testing.T) {
	client := newFake()
	var podsDown atomic.Bool
	podsDown.Store(true)
	client.PrependReactor("list", "pods", func(k8stesting.Action) (bool, k8sruntime.Object, error) {
		if podsDown.Load() {
			return true, nil, errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
		}
		return false, nil, nil
	})
	p := startPipeline(t, testOptions(client, false), client, "k8s_event")

	const msg = "plugin/errors: the same line"
	p.listener.Error("plugin/errors: ", "the same line")
	eventuallyEvents(t, client, testNS, "the line written before the UID is known", func(evs []corev1.Event) bool { return len(evs) == 1 })
	podsDown.Store(false)
	<-p.ref.done
	p.listener.Error("plugin/errors: ", "the same line")
	p.listener.Error("plugin/errors: ", "the same line")
	evs := eventuallyEvents(t, client, testNS, "the line's events counting 3", func(evs []corev1.Event) bool {
		var n int32
		for _, e := range evs {
			n += e.Count
		}
		return n == 3
	})
	if len(evs) != 2 || evs[0].Message != msg || evs[1].Message != msg {
		t.Fatalf("want two events of %q, got %s", msg, describe(evs))
	}
	uids := map[types.UID]int32{evs[0].InvolvedObject.UID: evs[0].Count, evs[1].InvolvedObject.UID: evs[1].Count}
	if uids[""] != 1 || uids[testUID] != 2 {
		t.Errorf("want Count 1 without a UID and Count 2 with the Pod's, got %v", uids)
	}
}
