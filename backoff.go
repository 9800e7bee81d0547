package k8s_event

import (
	"math/rand/v2"
	"time"
)

// backoff is a capped exponential backoff, with jitter that only lengthens a wait.
type backoff struct {
	initial, max time.Duration
	// jitter lengthens each wait by a random part of it, up to this fraction: replicas
	// that met the same failure at the same moment then retry at different moments.
	jitter float64
}

// next returns the wait after one of prev, before jitter; the first, after 0, is initial.
func (b backoff) next(prev time.Duration) time.Duration {
	if prev <= 0 {
		return b.initial
	}
	return min(2*prev, b.max)
}

// jittered returns d lengthened by a random part of it, up to the jitter fraction.
func (b backoff) jittered(d time.Duration) time.Duration {
	return d + time.Duration(rand.Float64()*b.jitter*float64(d))
}
