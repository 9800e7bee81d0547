package k8s_event

import (
	"fmt"
	"sync"
	"time"

	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	restclient "k8s.io/client-go/rest"
)

// selfLog prints this plugin's own messages about delivering events: API failures,
// retries, API warnings, client-side throttling. It prints through CoreDNS's log package
// functions, never through a plugin logger, so nothing reaches a log listener: a message
// printed while CoreDNS's listener lock is held (a fatal line) cannot deadlock, and no
// delivery message can come back as an event. It prints at most one message of each
// kind (see messageKind, which the caller names) per interval, with a count of those
// held back, so an unreachable API server costs one line a minute, a throttling notice
// does not hide a delivery failure, and a retry notice does not hide a drop.
type selfLog struct {
	interval time.Duration
	now      func() time.Time
	print    func(msg string)

	mu    sync.Mutex
	kinds [messageKinds]kindLog
}

// messageKind is a kind of the plugin's own messages: at most one of each is printed per
// interval.
type messageKind int

const (
	kindDelivery messageKind = iota // event writes that failed, and their retries
	kindDropped                     // lines dropped: never held back by news of lines still on their way
	kindClient                      // client-go's notices: API warnings, client-side throttling
	kindIdentity                    // the Pod's identity missing from the environment
	kindLookup                      // the Pod UID lookup failing
	messageKinds                    // how many kinds there are
)

type kindLog struct {
	last       time.Time
	suppressed int
}

func newSelfLog(interval time.Duration) *selfLog {
	return &selfLog{
		interval: interval,
		now:      time.Now,
		print:    func(msg string) { clog.Warning(selfPrefix + msg) },
	}
}

// printf prints a message of kind unless one of that kind was printed less than an
// interval ago. A message held back is never formatted.
func (l *selfLog) printf(kind messageKind, format string, v ...any) {
	l.mu.Lock()
	k := &l.kinds[kind]
	now := l.now()
	if !k.last.IsZero() && now.Sub(k.last) < l.interval {
		k.suppressed++
		l.mu.Unlock()
		return
	}
	held := k.suppressed
	k.last, k.suppressed = now, 0
	l.mu.Unlock()

	msg := fmt.Sprintf(format, v...)
	if held > 0 {
		msg += fmt.Sprintf(" (%d similar messages held back in the last %s)", held, l.interval)
	}
	l.print(msg)
}

// logger returns the logr.Logger put in the context of every client-go call the plugin makes,
// and given to client-go's event broadcaster and recorder: API warnings, throttling
// notices and errors at verbosity 0 are printed through l; verbose messages are not.
func (l *selfLog) logger() logr.Logger { return logr.New(selfLogSink{l: l}) }

// broadcasterLogger returns the logger of client-go's event broadcaster: logger, without the
// broadcaster's "Server rejected event (will not retry!)" about the errors the sink
// returns (API statuses and request construction errors, see finalError). The sink
// returns one only for a line it dropped, and printed the drop itself.
func (l *selfLog) broadcasterLogger() logr.Logger {
	return logr.New(selfLogSink{l: l, sinkReportsDrops: true})
}

type selfLogSink struct {
	l                *selfLog
	sinkReportsDrops bool
}

func (selfLogSink) Init(logr.RuntimeInfo)            {}
func (selfLogSink) Enabled(level int) bool           { return level == 0 }
func (s selfLogSink) WithValues(...any) logr.LogSink { return s }
func (s selfLogSink) WithName(string) logr.LogSink   { return s }
func (s selfLogSink) Info(level int, msg string, _ ...any) {
	if level == 0 {
		s.l.printf(kindClient, "kubernetes client: %s", msg)
	}
}
func (s selfLogSink) Error(err error, msg string, _ ...any) {
	if s.sinkReportsDrops && sinkVerdict(err) {
		return
	}
	if err != nil {
		s.l.printf(kindDelivery, "event delivery: %s: %v", msg, err)
		return
	}
	s.l.printf(kindDelivery, "event delivery: %s", msg)
}

// sinkVerdict reports whether err is one the sink returns to client-go's recorder, which
// gives up on these at once.
func sinkVerdict(err error) bool {
	switch err.(type) {
	case *apierrors.StatusError, *restclient.RequestConstructionError:
		return true
	}
	return false
}
