package main

import (
	"cmp"
	"net/http"
	"slices"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
)

// togetherWindow is how close two replicas' retries must be received to count as made
// together: after an outage or a 429 given to every replica at once, retries in
// lockstep land within a few milliseconds of each other.
const togetherWindow = 100 * time.Millisecond

// retryInstants returns when the API server received each retry after a 429 among
// reqs, the requests of one replica, in any order: in the order received, a request
// that follows a 429 is its retry (the plugin writes one event at a time).
func retryInstants(reqs []devenv.AuditEvent) []time.Time {
	reqs = slices.SortedStableFunc(slices.Values(reqs), func(x, y devenv.AuditEvent) int { return x.Received.Compare(y.Received) })
	var at []time.Time
	for i := 1; i < len(reqs); i++ {
		if reqs[i-1].ResponseStatus.Code == http.StatusTooManyRequests {
			at = append(at, reqs[i].Received)
		}
	}
	return at
}

// retryTogether is one retry: when it was received, and whose it was.
type retryTogether struct {
	at  time.Time
	pod string
}

// mostTogether returns the most replicas whose retries the API server received within
// one window (togetherWindow), counting each replica once.
func mostTogether(retries []retryTogether) int {
	retries = slices.SortedFunc(slices.Values(retries), func(x, y retryTogether) int { return cmp.Compare(x.at.UnixNano(), y.at.UnixNano()) })
	most := 0
	for i, first := range retries {
		pods := map[string]bool{}
		for _, r := range retries[i:] {
			if r.at.Sub(first.at) >= togetherWindow {
				break
			}
			pods[r.pod] = true
		}
		most = max(most, len(pods))
	}
	return most
}
