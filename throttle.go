package k8s_event

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/coredns/coredns/core/dnsserver"
	"k8s.io/utils/clock"
)

// throttle holds the token buckets that decide which lines become events: one pair per
// plugin, a bucket for each event type (Normal for debug and info, Warning for warning,
// error and fatal), each of BURST tokens refilled at QPS per second. A flood of one
// plugin's lines (the errors plugin's, when an upstream is down) then leaves every other
// plugin its full burst: a failed reload or a lost API watch is still reported.
//
// The buckets are checked as soon as a line arrives, before it is formatted, so a
// refused line costs one map lookup, one clock reading and one atomic load; client-go's
// correlator, which would key a single bucket per event type for the whole process, is
// configured never to refuse again (see newEventRecorder).
type throttle struct {
	qps   float32
	burst int

	clock    clock.PassiveClock
	epoch    time.Time // readings are taken as the time since epoch
	interval int64     // nanoseconds for one token to come back
	capacity int64     // nanoseconds for an empty bucket to fill: BURST intervals

	plugins map[string]*bucketPair // by logger prefix ("plugin/NAME: "), filled once
	other   *bucketPair            // every logger whose name is not a known directive
}

// bucketPair is one plugin's token buckets, Normal then Warning.
type bucketPair [2]bucket

// newThrottle makes the buckets of every plugin the binary knows (dnsserver.Directives,
// plugin.cfg's list), full. It is built once per configuration whose rate changed, so the
// listener only ever reads the map.
func newThrottle(qps float32, burst int, clk clock.PassiveClock) *throttle {
	interval := int64(float64(time.Second) / float64(qps))
	t := &throttle{
		qps:      qps,
		burst:    burst,
		clock:    clk,
		epoch:    clk.Now(),
		interval: interval,
		capacity: int64(burst) * interval,
		plugins:  make(map[string]*bucketPair, len(dnsserver.Directives)),
		other:    newBucketPair(),
	}
	for _, name := range dnsserver.Directives {
		t.plugins[loggerPrefix(name)] = newBucketPair()
	}
	return t
}

func newBucketPair() *bucketPair {
	bp := new(bucketPair)
	for i := range bp {
		bp[i].full.Store(math.MinInt64) // full from the start
	}
	return bp
}

// admit takes a token from the bucket of the plugin that logged (prefix) for lv's event
// type, if there is one.
func (t *throttle) admit(prefix string, lv level) bool {
	bp, ok := t.plugins[prefix]
	if !ok {
		bp = t.other
	}
	typ := 1
	if lv <= levelInfo {
		typ = 0
	}
	return bp[typ].take(int64(t.clock.Since(t.epoch)), t.interval, t.capacity)
}

// sameRate reports whether t has this rate.
func (t *throttle) sameRate(qps float32, burst int) bool { return t.qps == qps && t.burst == burst }

// bucket is a token bucket whose whole state is one number, the clock reading at which it
// is full again (a generic cell rate algorithm): at now it holds
// BURST - (full - now)/interval tokens, and taking one moves full one interval later. Taking
// is a compare-and-swap, and refusing only reads: the loggers of every core can check
// an empty bucket at once without writing to the memory they share, as they would with a
// lock. It admits what client-go's token bucket (golang.org/x/time/rate) admits for the
// same QPS, BURST and clock readings.
type bucket struct {
	full atomic.Int64
	_    [56]byte // a cache line of its own: a busy plugin's writes do not slow another's reads
}

// take takes a token at now if there is one; interval and capacity are in the unit of now.
func (b *bucket) take(now, interval, capacity int64) bool {
	for {
		full := b.full.Load()
		next := max(full, now) + interval
		if next-now > capacity {
			return false
		}
		if b.full.CompareAndSwap(full, next) {
			return true
		}
	}
}
