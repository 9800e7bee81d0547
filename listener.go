package k8s_event

// line is a log line on its way to the Events API.
type line struct {
	level   level
	message string
}

// selfPrefix is this plugin's own logger: its lines are never reported, so a failing
// event write cannot feed on itself.
var selfPrefix = loggerPrefix(pluginName)

// listener receives every plugin log line of the process (clog.Listener). It runs on
// the goroutine that logs, a DNS query's among them, so it never blocks: a line is
// filtered, charged to its token bucket, formatted and handed off without waiting.
// Fatal lines are the exception: the process exits right after, so they are written
// before the call returns, bounded by a short timeout.
type listener struct {
	levels   levelSet
	plugins  map[string]struct{} // logger prefixes named by plugins or except; nil for all
	except   bool
	throttle *throttle
	queue    chan<- line
	fatal    func(message string)
}

// Name implements the clog.Listener interface. One name process-wide: registering a new
// listener replaces the previous one in place, which is how a reload hands over.
func (l *listener) Name() string { return pluginName }

// selected reports whether a line of this level from this logger is to be reported.
func (l *listener) selected(lv level, prefix string) bool {
	if !l.levels.has(lv) || prefix == selfPrefix {
		return false
	}
	if l.plugins != nil {
		if _, named := l.plugins[prefix]; named == l.except {
			return false
		}
	}
	return true
}

// admitted counts a selected line and charges it to the rate limit. Fatal lines are
// never refused: there is at most one, and it is the one that matters most.
func (l *listener) admitted(lv level, prefix string) bool {
	if !l.selected(lv, prefix) {
		return false
	}
	linesByLevel[lv].Inc()
	if lv != levelFatal && !l.throttle.admit(lv) {
		droppedRateLimited.Inc()
		return false
	}
	return true
}

func (l *listener) report(lv level, prefix, format string, v []any, formatted bool) {
	if !l.admitted(lv, prefix) {
		return
	}
	msg := formatMessage(prefix, format, v, formatted)
	if lv == levelFatal {
		l.fatal(msg)
		return
	}
	select {
	case l.queue <- line{level: lv, message: msg}:
	default:
		droppedQueueFull.Inc()
	}
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
