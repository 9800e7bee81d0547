package devenv

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

func TestEventRateLimitOptionRefusesNonPositive(t *testing.T) {
	if err := WithEventRateLimit(0, 10)(&apiServerSetup{dir: t.TempDir()}); err == nil {
		t.Error("qps 0 accepted")
	}
}

func TestParseStatCPU(t *testing.T) {
	// A command name with a space and a parenthesis, utime 150 and stime 25 ticks.
	stat := "4242 (kube (api) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 25 0 0 20 0 12 0 1000 2000000 3000"
	d, err := parseStatCPU(stat)
	if err != nil || d != 1750*time.Millisecond {
		t.Errorf("parseStatCPU = %v, %v; want 1.75s", d, err)
	}
	if _, err := parseStatCPU("4242 (x) S 1 2"); err == nil {
		t.Error("a short stat parsed")
	}
}

// The options add their flags to envtest's arguments, and WithEventRateLimit writes the
// admission configuration file its flag names, with the limit in it.
func TestOptionsSetFlagsAndFiles(t *testing.T) {
	dir := t.TempDir()
	args := envtest.EmptyArguments()
	if err := applyOptions(args, dir, []Option{WithAPIServerFlag("v", "2"), WithEventRateLimit(50, 100)}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "admission.yaml")
	flags := args.AsStrings(nil)
	for _, want := range []string{"--v=2", "--enable-admission-plugins=EventRateLimit", "--admission-control-config-file=" + file} {
		if !slices.Contains(flags, want) {
			t.Errorf("flags %q lack %q", flags, want)
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"name: EventRateLimit", "kind: Configuration", "type: Namespace", "qps: 50", "burst: 100"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("admission configuration lacks %q:\n%s", want, data)
		}
	}
}
