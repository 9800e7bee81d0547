package k8s_event

import (
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/clock"
)

// throttle holds one token bucket per event type, in front of client-go's event correlator.
//
// The correlator's spam filter keys its buckets by source, involved object and event type.
// One CoreDNS process has one source and one object, so that filter is exactly one bucket
// for Normal and one for Warning events. Checking the same kind of bucket here, before a
// line is formatted, lets a refused line cost a few atomic operations instead of a walk
// through the correlator; the correlator is then configured never to refuse again.
type throttle struct {
	qps     float32
	burst   int
	normal  flowcontrol.PassiveRateLimiter
	warning flowcontrol.PassiveRateLimiter
}

func newThrottle(qps float32, burst int, clk clock.PassiveClock) *throttle {
	return &throttle{
		qps:     qps,
		burst:   burst,
		normal:  flowcontrol.NewTokenBucketPassiveRateLimiterWithClock(qps, burst, clk),
		warning: flowcontrol.NewTokenBucketPassiveRateLimiterWithClock(qps, burst, clk),
	}
}

// admit takes a token from the bucket of lv's event type, if there is one.
func (t *throttle) admit(lv level) bool {
	if lv <= levelInfo {
		return t.normal.TryAccept()
	}
	return t.warning.TryAccept()
}

func (t *throttle) sameRate(cfg *config) bool { return t.qps == cfg.qps && t.burst == cfg.burst }
