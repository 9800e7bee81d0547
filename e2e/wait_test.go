package e2e

import (
	"testing"
	"time"
)

// eventually polls cond until it holds, failing the test after timeout with what and
// the last state cond described.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (ok bool, state string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s (last: %s)", timeout, what, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
