package k8s_event

import (
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// deliveryLog is the logger client-go's broadcaster and recorder write to. Their default
// is klog, which the kubernetes plugin sends into CoreDNS's plugin logger, where this
// plugin would report its own failures. Here every message is printed under this
// plugin's own logger, which is never reported, and at most once per interval, with a
// count of what was held back, so an unreachable API server costs a line a minute.
type deliveryLog struct {
	interval time.Duration
	now      func() time.Time
	printf   func(format string, v ...any)

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// deliveryLogger is shared by every reporter of the process, so reloads do not reset
// its once-a-minute limit.
var deliveryLogger = newDeliveryLog(time.Minute)

func newDeliveryLog(interval time.Duration) *deliveryLog {
	return &deliveryLog{interval: interval, now: time.Now, printf: log.Warningf}
}

// logger returns a logr.Logger writing to d.
func (d *deliveryLog) logger() logr.Logger { return logr.New(deliverySink{d}) }

func (d *deliveryLog) report(msg string, err error) {
	if strings.Contains(msg, "dropped event") {
		droppedBroadcaster.Inc()
	}
	d.mu.Lock()
	now := d.now()
	if !d.last.IsZero() && now.Sub(d.last) < d.interval {
		d.suppressed++
		d.mu.Unlock()
		return
	}
	held := d.suppressed
	d.last, d.suppressed = now, 0
	d.mu.Unlock()

	text := "event delivery: " + msg
	if err != nil {
		text += ": " + err.Error()
	}
	if held > 0 {
		d.printf("%s (%d similar messages held back in the last %s)", text, held, d.interval)
		return
	}
	d.printf("%s", text)
}

// deliverySink adapts deliveryLog to logr: errors are reported, informational messages
// (client-go's verbose ones) are not.
type deliverySink struct{ d *deliveryLog }

func (deliverySink) Init(logr.RuntimeInfo)                   {}
func (deliverySink) Enabled(int) bool                        { return false }
func (deliverySink) Info(int, string, ...any)                {}
func (s deliverySink) Error(err error, msg string, _ ...any) { s.d.report(msg, err) }
func (s deliverySink) WithValues(...any) logr.LogSink        { return s }
func (s deliverySink) WithName(string) logr.LogSink          { return s }
