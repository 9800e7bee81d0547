//go:build linux

package devenv

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// niceReporter plays CoreDNS: it prints the nice value it runs at (field 19 of
// /proc/self/stat; its command has no spaces), its arguments, then waits to be stopped.
const niceReporter = `#!/bin/sh
trap 'exit 0' TERM
echo "nice $(cut -d' ' -f19 /proc/$$/stat) args $*"
while :; do sleep 0.05; done
`

func TestStartCoreDNSNice(t *testing.T) {
	for _, nice := range []int{0, 19} {
		dir := t.TempDir()
		bin := filepath.Join(dir, "coredns")
		if err := os.WriteFile(bin, []byte(niceReporter), 0o755); err != nil {
			t.Fatal(err)
		}
		c, err := StartCoreDNS(CoreDNSOptions{Binary: bin, Corefile: ". {\n}\n", Dir: dir, Nice: nice})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		line, err := c.WaitLine(ctx, "its nice value", func(l string) bool { return strings.HasPrefix(l, "nice ") })
		cancel()
		if err := c.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		// The test's own nice value adds to the one asked for; nice(1) caps it at 19.
		want := "nice " + niceOf(t, nice) + " args -conf " + c.Conf
		if line != want {
			t.Errorf("Nice %d: CoreDNS printed %q, want %q", nice, line, want)
		}
	}
}

// niceOf is the nice value a child started with Nice n gets: this process's plus n, at
// most 19.
func niceOf(t *testing.T, n int) string {
	t.Helper()
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the command (in parentheses, which may hold spaces).
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	own, err := strconv.Atoi(fields[16])
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(min(own+n, 19))
}
