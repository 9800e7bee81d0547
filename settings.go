package k8s_event

import "k8s.io/client-go/kubernetes"

// settings is what one running configuration reports, and how. A configuration that
// starts swaps in its own, immutable, settings in one atomic store; the log listener
// reads them once per line.
type settings struct {
	cfg      *config
	plugins  map[string]struct{} // logger prefixes named by plugins or except; nil for all
	throttle *throttle
	client   kubernetes.Interface // nil until kubeapi's client exists (before OnStartup)
}

// settingsFor builds the settings of cfg, writing through client. They take the token
// buckets of the settings in effect if the rate is the same, so that a reload does not
// refill them.
func (p *pipeline) settingsFor(cfg *config, client kubernetes.Interface) *settings {
	var th *throttle
	if cur := p.settings.Load(); cur != nil && cur.throttle.sameRate(cfg) {
		th = cur.throttle
	} else {
		th = newThrottle(cfg.qps, cfg.burst, p.opts.clock)
	}
	return &settings{cfg: cfg, plugins: cfg.pluginSet(), throttle: th, client: client}
}

// selected reports whether a line of this level from this logger is to be reported.
func (s *settings) selected(lv level, prefix string) bool {
	if !s.cfg.levels.has(lv) || prefix == selfPrefix {
		return false
	}
	if s.plugins != nil {
		if _, named := s.plugins[prefix]; named == s.cfg.except {
			return false
		}
	}
	return true
}

// backlog bounds the lines admitted and not yet written (or dropped). Only lines the
// token buckets admitted enter it; see queueSize.
func (s *settings) backlog() int64 { return int64(queueSize(s.cfg.burst)) }

// queueSize is the backlog for a BURST: room for the full bursts of four plugins at once
// (during an API outage, the flood of one plugin's lines and the lines of the others that
// report its consequences, reload's, kubernetes', forward's), and a margin, but never
// more than maxBacklog.
//
// maxBacklog stays below client-go's broadcaster queue (1000 events), which drops what
// does not fit without telling anyone: every admitted line is in the backlog until the
// sink resolves it, so client-go never holds more than maxBacklog of them, and a line
// handed to it always reaches the sink, counted. It is also the capacity of the hand-off
// channel (see enqueue). At about 2 KB a line (a message of up to 1 KB and its Event),
// a full backlog is under 2 MB.
func queueSize(burst int) int { return min(4*burst+16, maxBacklog) }

const maxBacklog = 960
