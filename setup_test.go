package k8s_event

import (
	"os"
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

// TestParseErrors runs setup on every bad stanza of testdata/bad-corefiles.txtar, which
// the end-to-end TestBadCorefile runs ./coredns on too.
func TestParseErrors(t *testing.T) {
	tests := badCorefiles(t)
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

// badCorefile is a stanza setup must refuse, and what its error must say.
type badCorefile struct{ name, input, expectedErrContent string }

// badCorefiles reads testdata/bad-corefiles.txtar: one file per case, whose first line
// is "# want: " and the expected error text.
func badCorefiles(t *testing.T) []badCorefile {
	t.Helper()
	data, err := os.ReadFile("testdata/bad-corefiles.txtar")
	if err != nil {
		t.Fatal(err)
	}
	var cases []badCorefile
	for _, file := range strings.Split(string(data), "\n-- ")[1:] {
		name, input, _ := strings.Cut(file, " --\n")
		want, ok := strings.CutPrefix(strings.SplitN(input, "\n", 2)[0], "# want: ")
		if !ok {
			t.Fatalf("bad-corefiles.txtar: case %q does not start with \"# want: \"", name)
		}
		cases = append(cases, badCorefile{name, input, want})
	}
	if len(cases) < 10 {
		t.Fatalf("bad-corefiles.txtar: %d cases, want the whole table", len(cases))
	}
	return cases
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
