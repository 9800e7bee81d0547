package devenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// lateListener plays CoreDNS on a busy machine: it prints its banner, and only half a
// second later starts listening for SIGUSR1; until then the signal is dropped, as the Go
// runtime drops it before signal.Notify.
const lateListener = `#!/bin/sh
trap '' USR1
trap 'exit 0' TERM
echo CoreDNS-late-listener
sleep 0.5
trap 'echo "[INFO] SIGUSR1: Reloading"; echo "[INFO] Reloading complete"' USR1
while :; do sleep 0.05; done
`

func TestReloadSignalledBeforeCoreDNSListens(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "coredns")
	if err := os.WriteFile(bin, []byte(lateListener), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := StartCoreDNS(CoreDNSOptions{Binary: bin, Corefile: ". {\n}\n", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	reloads := func() int {
		n := 0
		for _, l := range c.Lines() {
			if strings.HasPrefix(l, "[INFO] Reloading complete") {
				n++
			}
		}
		return n
	}
	for i := 1; i <= 2; i++ {
		if err := c.Reload(ctx, fmt.Sprintf(". {\n    # %d\n}\n", i)); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		time.Sleep(1500 * time.Millisecond) // a second signal would show now
		if got := reloads(); got != i {
			t.Fatalf("after reload %d: CoreDNS reloaded %d times:\n%s", i, got, c.Tail(20))
		}
	}
	if got, err := os.ReadFile(c.Conf); err != nil || !strings.Contains(string(got), "# 2") {
		t.Errorf("Corefile after the reloads: %q, %v", got, err)
	}
}
