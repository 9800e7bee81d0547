package k8s_event

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

// Defaults and limits of the Corefile settings.
const (
	defaultQPS       = float32(1.0 / 300)
	defaultBurst     = 25
	defaultCacheSize = 4096

	minQPS, maxQPS             = 1.0 / 3600, 1.0
	minBurst, maxBurst         = 1, 256
	minCacheSize, maxCacheSize = 1, 65535
)

// config is k8s_event's configuration, from the Corefile to the settings in effect:
// parse fills in the block's settings; when the configuration starts, running makes the
// settings in effect, a copy that also holds what they report through. Settings in
// effect are never changed: a configuration that starts swaps its own in with one
// atomic store, and the log listener reads them once per line.
type config struct {
	// The Corefile block's.
	levels    levelSet
	qps       float32 // refill rate of each token bucket (one per plugin and event type), per second
	burst     int     // size of each token bucket
	cacheSize int     // LRU size of client-go's event correlator
	plugins   []string
	except    bool // plugins lists the plugins not to report, instead of the only ones to report

	// Set by running.
	prefixes map[string]struct{} // plugins as logger prefixes; nil for all
	throttle *throttle
	client   kubernetes.Interface // nil until kubeapi's client exists (before OnStartup)
}

func defaultConfig() *config {
	c := &config{qps: defaultQPS, burst: defaultBurst, cacheSize: defaultCacheSize}
	c.levels.add(levelError)
	c.levels.add(levelWarning)
	c.levels.add(levelFatal)
	return c
}

// equal reports whether c and o have the same Corefile settings.
func (c *config) equal(o *config) bool {
	return c.levels == o.levels && c.qps == o.qps && c.burst == o.burst &&
		c.cacheSize == o.cacheSize && c.except == o.except && slices.Equal(c.plugins, o.plugins)
}

// String renders the settings as a Corefile block body would, for error messages.
func (c *config) String() string {
	s := fmt.Sprintf("level %s; rate %s %d %d", c.levels, strconv.FormatFloat(float64(c.qps), 'g', -1, 32), c.burst, c.cacheSize)
	if len(c.plugins) > 0 {
		directive := "plugins"
		if c.except {
			directive = "except"
		}
		s += "; " + directive + " " + strings.Join(c.plugins, " ")
	}
	return s
}

// pluginSet returns the plugins directive as logger prefixes, the form the CoreDNS log
// listener receives ("plugin/NAME: "), or nil when every plugin is reported.
func (c *config) pluginSet() map[string]struct{} {
	if len(c.plugins) == 0 {
		return nil
	}
	set := make(map[string]struct{}, len(c.plugins))
	for _, name := range c.plugins {
		set[loggerPrefix(name)] = struct{}{}
	}
	return set
}

// running returns the settings in effect of c, writing through client. They take the
// token buckets of cur, the settings in effect now, if the rate is the same, so that a
// reload does not refill them.
func (c *config) running(cur *config, clk clock.PassiveClock, client kubernetes.Interface) *config {
	r := *c
	if cur != nil && cur.throttle.sameRate(c.qps, c.burst) {
		r.throttle = cur.throttle
	} else {
		r.throttle = newThrottle(c.qps, c.burst, clk)
	}
	r.prefixes = c.pluginSet()
	r.client = client
	return &r
}

// selected reports whether a line of this level from this logger is to be reported.
func (c *config) selected(lv level, prefix string) bool {
	if !c.levels.has(lv) || prefix == selfPrefix {
		return false
	}
	if c.prefixes != nil {
		if _, named := c.prefixes[prefix]; named == c.except {
			return false
		}
	}
	return true
}
