package k8s_event

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
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

// config is the parsed k8s_event block.
type config struct {
	levels    levelSet
	qps       float32 // refill rate of each token bucket (one per plugin and event type), per second
	burst     int     // size of each token bucket
	cacheSize int     // LRU size of client-go's event correlator
	plugins   []string
	except    bool // plugins lists the plugins not to report, instead of the only ones to report
}

func defaultConfig() *config {
	c := &config{qps: defaultQPS, burst: defaultBurst, cacheSize: defaultCacheSize}
	c.levels.add(levelError)
	c.levels.add(levelWarning)
	c.levels.add(levelFatal)
	return c
}

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

// loggerPrefix is how CoreDNS's plugin logger names a plugin to log listeners.
func loggerPrefix(name string) string { return "plugin/" + name + ": " }
