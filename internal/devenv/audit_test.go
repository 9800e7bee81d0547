package devenv

import (
	"slices"
	"testing"
	"time"
)

func TestRetryEarlyFollowsTheSchedule(t *testing.T) {
	least := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for k, w := range least {
		if (Retry{Wait: w, Refusals: k + 1}).Early() {
			t.Errorf("after %d refusals, a wait of %v is early", k+1, w)
		}
		if !(Retry{Wait: w * 98 / 100, Refusals: k + 1}).Early() {
			t.Errorf("after %d refusals, a wait of %v is not early", k+1, w*98/100)
		}
	}
}

func TestRetriesAfter429(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	req := func(s float64, code int) AuditEvent {
		var e AuditEvent
		e.Received, e.ResponseStatus.Code = t0.Add(time.Duration(s*float64(time.Second))), code
		return e
	}
	// Out of order: RetriesAfter429 sorts by the time received.
	reqs := []AuditEvent{req(3, 201), req(0, 201), req(1, 429), req(2, 429), req(5, 429), req(7.5, 201)}
	got := RetriesAfter429(reqs)
	want := []Retry{{Wait: time.Second, Refusals: 1}, {Wait: time.Second, Refusals: 2}, {Wait: 2500 * time.Millisecond, Refusals: 1}}
	if !slices.Equal(got, want) {
		t.Errorf("RetriesAfter429 = %v, want %v", got, want)
	}
}
