package k8s_event

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin"
)

func init() { plugin.Register(pluginName, setup) }

func setup(c *caddy.Controller) error {
	cfg, err := parse(c)
	if err != nil {
		return plugin.Error(pluginName, err)
	}
	if err := join(c, cfg); err != nil {
		return plugin.Error(pluginName, err)
	}
	return nil
}

func parse(c *caddy.Controller) (*config, error) {
	var cfg *config
	for c.Next() {
		if cfg != nil {
			return nil, plugin.ErrOnce
		}
		if args := c.RemainingArgs(); len(args) > 0 {
			return nil, c.Errf("takes no arguments, settings go in a block: '%s'", strings.Join(args, " "))
		}
		var err error
		if cfg, err = parseBlock(c); err != nil {
			return nil, err
		}
	}
	if cfg == nil {
		cfg = defaultConfig()
	}
	return cfg, nil
}

const properties = "level, rate, plugins or except"

func parseBlock(c *caddy.Controller) (*config, error) {
	cfg := defaultConfig()
	seen := map[string]bool{}
	for c.NextBlock() {
		directive := c.Val()
		args := c.RemainingArgs()
		if seen[directive] {
			return nil, c.Errf("%s given more than once", directive)
		}
		seen[directive] = true
		var err error
		switch directive {
		case "level":
			cfg.levels, err = parseLevels(args)
		case "rate":
			err = parseRate(cfg, args)
		case "plugins", "except":
			if seen["plugins"] && seen["except"] {
				return nil, c.Errf("plugins and except cannot be used together: use plugins to name the only plugins to report, or except to name the plugins not to report")
			}
			cfg.except = directive == "except"
			cfg.plugins, err = parsePluginNames(args)
		default:
			return nil, c.Errf("unknown property '%s', want %s", directive, properties)
		}
		if err != nil {
			return nil, c.Errf("%s: %v", directive, err)
		}
	}
	return cfg, nil
}

const levelList = "debug, error, fatal, info, warning"

func parseLevels(args []string) (levelSet, error) {
	if len(args) == 0 {
		return 0, fmt.Errorf("needs at least one level: %s", levelList)
	}
	var set levelSet
	for _, a := range args {
		lv, ok := parseLevel(a)
		if !ok {
			return 0, fmt.Errorf("unknown level '%s', want one or more of %s", a, levelList)
		}
		set.add(lv)
	}
	return set, nil
}

// parseRate reads [QPS [BURST [CACHESIZE]]] into cfg; missing values keep their defaults.
func parseRate(cfg *config, args []string) error {
	if len(args) > 3 {
		return fmt.Errorf("takes at most 3 arguments, QPS BURST CACHESIZE, got %d", len(args))
	}
	if len(args) > 0 {
		qps, err := parseQPS(args[0])
		if err != nil {
			return err
		}
		cfg.qps = qps
	}
	if len(args) > 1 {
		burst, err := parseInt("BURST", args[1], minBurst, maxBurst)
		if err != nil {
			return err
		}
		cfg.burst = burst
	}
	if len(args) > 2 {
		size, err := parseInt("CACHESIZE", args[2], minCacheSize, maxCacheSize)
		if err != nil {
			return err
		}
		cfg.cacheSize = size
	}
	return nil
}

// parseQPS reads a rate given as a decimal ("0.15") or a fraction ("1/300").
func parseQPS(s string) (float32, error) {
	var qps float64
	num, den, isFraction := strings.Cut(s, "/")
	n, err := strconv.ParseFloat(num, 64)
	if err == nil && isFraction {
		var d float64
		d, err = strconv.ParseFloat(den, 64)
		if err == nil && d == 0 {
			err = errors.New("division by zero")
		}
		qps = n / d
	} else {
		qps = n
	}
	if err != nil {
		return 0, fmt.Errorf("QPS must be a number such as 0.15 or a fraction such as 1/300: '%s'", s)
	}
	if !(qps >= minQPS && qps <= maxQPS) {
		return 0, fmt.Errorf("QPS must be in range [1/3600, 1]: %s", s)
	}
	return float32(qps), nil
}

func parseInt(name, s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s must be an integer: '%s'", name, s)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%s must be in range [%d, %d]: %d", name, lo, hi, n)
	}
	return n, nil
}

// parsePluginNames checks plugin names as they are written in a Corefile.
func parsePluginNames(args []string) ([]string, error) {
	if len(args) == 0 {
		return nil, errors.New("needs at least one plugin name, as written in a Corefile, such as reload or kubernetes")
	}
	names := make([]string, 0, len(args))
	for _, a := range args {
		if !isPluginName(a) {
			return nil, fmt.Errorf("'%s' does not look like a plugin name: want lowercase letters, digits and '_', such as reload or k8s_external", a)
		}
		if a == pluginName {
			return nil, fmt.Errorf("'%s' never reports its own log lines", a)
		}
		names = append(names, a)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}
