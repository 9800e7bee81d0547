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
	if cur := p.listener.settings.Load(); cur != nil && cur.throttle.sameRate(cfg) {
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

// backlog bounds the lines admitted and not yet written (or dropped); see queueSize.
func (s *settings) backlog() int64 { return int64(queueSize(s.cfg.burst)) }
