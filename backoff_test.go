package k8s_event

import (
	"testing"
	"time"
)

// Jitter spreads the waits of replicas that failed together over the whole range it
// allows, from the wait itself to the wait lengthened by the jitter fraction, and
// never outside it: of 1000 waits, some fall in the lowest tenth of the range and some
// in the highest (each misses with a chance of 0.9^1000).
func TestJitteredWaitsSpreadWithinTheirBounds(t *testing.T) {
	b := backoff{initial: time.Second, max: 30 * time.Second, jitter: 0.5}
	const d = 10 * time.Second
	longest := d + time.Duration(b.jitter*float64(d))
	tenth := (longest - d) / 10
	low, high := longest, d
	for range 1000 {
		w := b.jittered(d)
		if w < d || w > longest {
			t.Fatalf("a wait of %s jittered to %s, want %s to %s", d, w, d, longest)
		}
		low, high = min(low, w), max(high, w)
	}
	if low > d+tenth || high < longest-tenth {
		t.Errorf("1000 waits of %s jittered to %s .. %s, want them spread over %s .. %s", d, low, high, d, longest)
	}
}
