package node

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMoveAsideAndPutBack(t *testing.T) {
	dir := t.TempDir()
	kept := filepath.Join(dir, "kubelet")
	absent := filepath.Join(dir, "cni")
	writeFile(t, filepath.Join(kept, "state"), "before")

	putBack, skipped, err := MoveAside([]string{kept, absent})
	if err != nil || len(skipped) > 0 {
		t.Fatalf("MoveAside: skipped %v, %v", skipped, err)
	}
	for _, p := range []string{kept, absent} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there while aside: %v", p, err)
		}
	}
	if err := putBack(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(kept, "state")); got != "before" {
		t.Errorf("put back %s holds %q, want what was there before", kept, got)
	}
	if _, err := os.Lstat(absent); !os.IsNotExist(err) {
		t.Errorf("putting back made %s, which was never there: %v", absent, err)
	}
}

func TestMoveAsideUndoesAKilledRun(t *testing.T) {
	p := filepath.Join(t.TempDir(), "kubelet")
	writeFile(t, filepath.Join(p+AsideSuffix, "state"), "before")

	putBack, _, err := MoveAside([]string{p})
	if err != nil {
		t.Fatal(err)
	}
	// Put back, then moved aside again as this run's: absent, what was there kept aside.
	if _, err := os.Lstat(p); !os.IsNotExist(err) {
		t.Errorf("%s is there during the run: %v", p, err)
	}
	if got := readFile(t, filepath.Join(p+AsideSuffix, "state")); got != "before" {
		t.Errorf("aside during the run: %q, want what was there before the killed run", got)
	}
	if err := putBack(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(p, "state")); got != "before" {
		t.Errorf("%s holds %q after two runs, want what was there before the killed one", p, got)
	}
}

func TestPutBackKeepsBothWhenThePathCameBack(t *testing.T) {
	p := filepath.Join(t.TempDir(), "kubelet")
	writeFile(t, filepath.Join(p, "state"), "before")
	putBack, _, err := MoveAside([]string{p})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(p, "state"), "made while aside")

	err = putBack()
	if err == nil || !strings.Contains(err.Error(), "exists again") {
		t.Fatalf("putBack = %v, want an error saying %s exists again", err, p)
	}
	if got := readFile(t, filepath.Join(p+AsideSuffix, "state")); got != "before" {
		t.Errorf("what was there before holds %q, want it kept aside untouched", got)
	}
}

func TestMoveAsideLeavesAServedPathInPlace(t *testing.T) {
	// A short directory: a unix socket's path has a length limit.
	dir, err := os.MkdirTemp("", "aside")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	l, err := net.Listen("unix", filepath.Join(dir, "containerd.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	putBack, skipped, err := MoveAside([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	defer putBack()
	if len(skipped) != 1 || skipped[0] != dir {
		t.Errorf("skipped %v, want the served %s", skipped, dir)
	}
	if _, err := os.Lstat(filepath.Join(dir, "containerd.sock")); err != nil {
		t.Errorf("the served path was moved: %v", err)
	}
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
