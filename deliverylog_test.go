package k8s_event

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestDeliveryLogHoldsBackRepeats(t *testing.T) {
	var printed []string
	now := time.Unix(0, 0)
	d := newDeliveryLog(time.Minute)
	d.now = func() time.Time { return now }
	d.printf = func(format string, v ...any) { printed = append(printed, fmt.Sprintf(format, v...)) }
	logger := d.logger()

	before := testutil.ToFloat64(droppedCount.WithLabelValues(dropBroadcaster))
	forbidden := errors.New(`events is forbidden: User "system:serviceaccount:kube-system:coredns" cannot create resource "events"`)
	for range 1000 {
		logger.Error(forbidden, "Server rejected event (will not retry!)", "event", "a large object")
		logger.Error(nil, "Unable to record event: too many queued events, dropped event", "event", "a large object")
	}
	logger.V(5).Info("verbose lines are not printed")
	if len(printed) != 1 {
		t.Fatalf("printed %d lines for 2000 failures within a minute, want 1: %q", len(printed), printed)
	}
	if want := "event delivery: Server rejected event (will not retry!): " + forbidden.Error(); printed[0] != want {
		t.Errorf("printed %q, want %q", printed[0], want)
	}
	if got := testutil.ToFloat64(droppedCount.WithLabelValues(dropBroadcaster)) - before; got != 1000 {
		t.Errorf("dropped_total{reason=broadcaster} grew by %v, want 1000", got)
	}

	now = now.Add(time.Minute)
	logger.Error(forbidden, "Server rejected event (will not retry!)")
	if len(printed) != 2 || !strings.Contains(printed[1], "(1999 similar messages held back in the last 1m0s)") {
		t.Errorf("after a minute, want one summary line, got %q", printed)
	}
}
