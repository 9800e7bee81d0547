package k8s_event

import "sync/atomic"

// listener receives every plugin log line of the process (clog.Listener), from the
// start of the first configuration with k8s_event to the final shutdown. It runs on the goroutine that logs, a DNS query's among them, so it
// never blocks: a line is filtered, charged to its token bucket, formatted and handed
// off without waiting. Fatal lines are the exception: the process exits right after, so
// they are written before the call returns, bounded by a short timeout. It runs with
// CoreDNS's listener lock held: nothing it calls may log through a plugin logger.
type listener struct {
	settings atomic.Pointer[config] // what is reported now; nil for nothing
	backlog  *backlog
	fatal    *fatalWriter
}

// Name implements the clog.Listener interface.
func (l *listener) Name() string { return pluginName }

// report filters a line, charges it to its token bucket, formats it and hands it off. A
// fatal line is never refused: there is at most one, and it matters most.
func (l *listener) report(lv level, prefix, format string, v []any, formatted bool) {
	s := l.settings.Load()
	if s == nil || !s.selected(lv, prefix) {
		return
	}
	if lv == levelFatal {
		l.fatal.write(formatMessage(prefix, format, v, formatted))
		return
	}
	linesByLevel[lv].Inc()
	if !s.throttle.admit(prefix, lv) {
		droppedRateLimited.Inc()
		return
	}
	l.backlog.enqueue(line{level: lv, message: formatMessage(prefix, format, v, formatted)}, int64(queueSize(s.burst)))
}

// Debug implements the clog.Listener interface.
func (l *listener) Debug(prefix string, v ...any) { l.report(levelDebug, prefix, "", v, false) }

// Debugf implements the clog.Listener interface.
func (l *listener) Debugf(prefix, format string, v ...any) {
	l.report(levelDebug, prefix, format, v, true)
}

// Info implements the clog.Listener interface.
func (l *listener) Info(prefix string, v ...any) { l.report(levelInfo, prefix, "", v, false) }

// Infof implements the clog.Listener interface.
func (l *listener) Infof(prefix, format string, v ...any) {
	l.report(levelInfo, prefix, format, v, true)
}

// Warning implements the clog.Listener interface.
func (l *listener) Warning(prefix string, v ...any) { l.report(levelWarning, prefix, "", v, false) }

// Warningf implements the clog.Listener interface.
func (l *listener) Warningf(prefix, format string, v ...any) {
	l.report(levelWarning, prefix, format, v, true)
}

// Error implements the clog.Listener interface.
func (l *listener) Error(prefix string, v ...any) { l.report(levelError, prefix, "", v, false) }

// Errorf implements the clog.Listener interface.
func (l *listener) Errorf(prefix, format string, v ...any) {
	l.report(levelError, prefix, format, v, true)
}

// Fatal implements the clog.Listener interface.
func (l *listener) Fatal(prefix string, v ...any) { l.report(levelFatal, prefix, "", v, false) }

// Fatalf implements the clog.Listener interface.
func (l *listener) Fatalf(prefix, format string, v ...any) {
	l.report(levelFatal, prefix, format, v, true)
}
