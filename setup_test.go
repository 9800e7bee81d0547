package k8s_event

import (
	"strings"
	"testing"

	"github.com/coredns/caddy"
)

func TestParse(t *testing.T) {
	levels := func(lvs ...level) levelSet {
		var s levelSet
		for _, lv := range lvs {
			s.add(lv)
		}
		return s
	}
	tests := []struct {
		name  string
		input string
		want  config
	}{
		{"no block", `k8s_event`, config{levels: levels(levelError, levelWarning, levelFatal), qps: defaultQPS, burst: 25, cacheSize: 4096}},
		{"empty block", "k8s_event {\n}", config{levels: levels(levelError, levelWarning, levelFatal), qps: defaultQPS, burst: 25, cacheSize: 4096}},
		{"level as written, without fatal", "k8s_event {\n level error warning\n}", config{levels: levels(levelError, levelWarning), qps: defaultQPS, burst: 25, cacheSize: 4096}},
		{"levels any case", "k8s_event {\n level INFO Error warning debug FATAL\n}", config{levels: levels(levelDebug, levelInfo, levelWarning, levelError, levelFatal), qps: defaultQPS, burst: 25, cacheSize: 4096}},
		{"bare rate keeps defaults", "k8s_event {\n rate\n}", config{levels: levels(levelError, levelWarning, levelFatal), qps: defaultQPS, burst: 25, cacheSize: 4096}},
		{"rate qps", "k8s_event {\n rate 0.15\n}", config{levels: levels(levelError, levelWarning, levelFatal), qps: 0.15, burst: 25, cacheSize: 4096}},
		{"rate fraction", "k8s_event {\n rate 1/3600 1 1\n}", config{levels: levels(levelError, levelWarning, levelFatal), qps: 1.0 / 3600, burst: 1, cacheSize: 1}},
		{"rate all", "k8s_event {\n level info\n rate 1 256 65535\n}", config{levels: levels(levelInfo), qps: 1, burst: 256, cacheSize: 65535}},
		{"plugins", "k8s_event {\n plugins reload kubernetes loop reload\n}", config{levels: levels(levelError, levelWarning, levelFatal), qps: defaultQPS, burst: 25, cacheSize: 4096, plugins: []string{"kubernetes", "loop", "reload"}}},
		{"except", "k8s_event {\n except errors k8s_external\n}", config{levels: levels(levelError, levelWarning, levelFatal), qps: defaultQPS, burst: 25, cacheSize: 4096, plugins: []string{"errors", "k8s_external"}, except: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parse(caddy.NewTestController("dns", tc.input))
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !got.equal(&tc.want) {
				t.Errorf("got %s, want %s", got, &tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name               string
		input              string
		expectedErrContent string
	}{
		{"argument on the plugin line", `k8s_event error`, "takes no arguments, settings go in a block: 'error'"},
		{"unknown directive", "k8s_event {\n levels error\n}", "unknown property 'levels', want level, rate, plugins or except"},
		{"level without arguments", "k8s_event {\n level\n}", "level: needs at least one level: debug, error, fatal, info, warning"},
		{"unknown level", "k8s_event {\n level error critical\n}", "level: unknown level 'critical', want one or more of debug, error, fatal, info, warning"},
		{"level twice", "k8s_event {\n level error\n level info\n}", "level given more than once"},
		{"qps not a number", "k8s_event {\n rate fast\n}", "rate: QPS must be a number such as 0.15 or a fraction such as 1/300: 'fast'"},
		{"qps bad fraction", "k8s_event {\n rate 1/x\n}", "rate: QPS must be a number such as 0.15 or a fraction such as 1/300: '1/x'"},
		{"qps division by zero", "k8s_event {\n rate 1/0\n}", "rate: QPS must be a number such as 0.15 or a fraction such as 1/300: '1/0'"},
		{"qps too high", "k8s_event {\n rate 2\n}", "rate: QPS must be in range [1/3600, 1]: 2"},
		{"qps too low", "k8s_event {\n rate 1/3601\n}", "rate: QPS must be in range [1/3600, 1]: 1/3601"},
		{"qps zero", "k8s_event {\n rate 0\n}", "rate: QPS must be in range [1/3600, 1]: 0"},
		{"qps NaN", "k8s_event {\n rate NaN\n}", "rate: QPS must be in range [1/3600, 1]: NaN"},
		{"burst not a number", "k8s_event {\n rate 0.1 many\n}", "rate: BURST must be an integer: 'many'"},
		{"burst too low", "k8s_event {\n rate 0.1 0\n}", "rate: BURST must be in range [1, 256]: 0"},
		{"burst too high", "k8s_event {\n rate 0.1 300\n}", "rate: BURST must be in range [1, 256]: 300"},
		{"cache size not a number", "k8s_event {\n rate 0.1 10 1.5\n}", "rate: CACHESIZE must be an integer: '1.5'"},
		{"cache size too low", "k8s_event {\n rate 0.1 10 0\n}", "rate: CACHESIZE must be in range [1, 65535]: 0"},
		{"cache size too high", "k8s_event {\n rate 0.1 10 65536\n}", "rate: CACHESIZE must be in range [1, 65535]: 65536"},
		{"rate too many arguments", "k8s_event {\n rate 0.1 10 100 5\n}", "rate: takes at most 3 arguments, QPS BURST CACHESIZE, got 4"},
		{"plugins without arguments", "k8s_event {\n plugins\n}", "plugins: needs at least one plugin name"},
		{"except without arguments", "k8s_event {\n except\n}", "except: needs at least one plugin name"},
		{"unknown-looking plugin", "k8s_event {\n plugins Reload\n}", "plugins: 'Reload' does not look like a plugin name"},
		{"plugin with punctuation", "k8s_event {\n except plugin/errors\n}", "except: 'plugin/errors' does not look like a plugin name"},
		{"empty plugin name", "k8s_event {\n plugins \"\"\n}", "plugins: '' does not look like a plugin name"},
		{"own name", "k8s_event {\n plugins k8s_event\n}", "plugins: 'k8s_event' never reports its own log lines"},
		{"plugins with except", "k8s_event {\n plugins reload\n except errors\n}", "plugins and except cannot be used together"},
		{"except with plugins", "k8s_event {\n except errors\n plugins reload\n}", "plugins and except cannot be used together"},
		{"twice in a block", "k8s_event\nk8s_event", "this plugin can only be used once per Server Block"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := setup(caddy.NewTestController("dns", tc.input))
			if err == nil {
				t.Fatalf("expected an error containing %q, got none", tc.expectedErrContent)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.expectedErrContent) {
				t.Errorf("error %q does not contain %q", msg, tc.expectedErrContent)
			}
			if !strings.Contains(msg, "plugin/k8s_event") {
				t.Errorf("error %q does not name the plugin", msg)
			}
		})
	}
}

// FuzzParse checks that no Corefile input makes the parser panic, and that what it
// accepts is within the documented limits. Seeds are in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add("k8s_event {\n level info error\n rate 0.15 10 1024\n plugins reload\n}")
	f.Fuzz(func(t *testing.T, input string) {
		cfg, err := parse(caddy.NewTestController("dns", input))
		if err != nil {
			return
		}
		if cfg.qps < minQPS || cfg.qps > maxQPS || cfg.burst < minBurst || cfg.burst > maxBurst ||
			cfg.cacheSize < minCacheSize || cfg.cacheSize > maxCacheSize || cfg.levels == 0 {
			t.Fatalf("accepted out-of-range settings %s from %q", cfg, input)
		}
		for _, p := range cfg.plugins {
			if !isPluginName(p) {
				t.Fatalf("accepted plugin name %q from %q", p, input)
			}
		}
	})
}
