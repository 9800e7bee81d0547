package node

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestHeldNamespaceKeepsNoThread holds network and mount namespaces as the node does, and checks
// that once each is held no thread of this process is left in it. A thread left there
// would be the main thread: the runtime cannot end it when a goroutine locked to it
// ends, so it stays, and /proc/self (the main thread) then shows the node's namespaces,
// not the host's. With one P the goroutine that makes the namespace runs on the thread
// of the test's goroutine, which is often the main thread.
func TestHeldNamespaceKeepsNoThread(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("holding a namespace needs root: run the test as root")
	}
	dir := t.TempDir()
	if err := makePrivateMount(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unmountUnder(dir) })
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))

	kinds := []struct {
		flag int
		name string
	}{{unix.CLONE_NEWNET, "net"}, {unix.CLONE_NEWNS, "mnt"}}
	for i := range 20 {
		kind := kinds[i%len(kinds)]
		path := filepath.Join(dir, kind.name)
		if err := holdNewNamespace(kind.flag, kind.name, path, nil); err != nil {
			t.Fatal(err)
		}
		var in []string
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			in = threadsIn(path, kind.name)
			if len(in) == 0 || time.Now().After(deadline) {
				break
			}
		}
		if len(in) > 0 {
			t.Fatalf("%s namespace %d: 5 s after it was held, thread %v of this process (%d is the main thread) is still in it", kind.name, i, in, os.Getpid())
		}
		if err := unix.Unmount(path, unix.MNT_DETACH); err != nil {
			t.Fatal(err)
		}
	}
}

// threadsIn lists the threads of this process in the namespace the file path holds.
func threadsIn(path, kind string) []string {
	var in []string
	for _, tid := range dirNames("/proc/self/task") {
		if sameNS(path, filepath.Join("/proc/self/task", tid, "ns", kind)) {
			in = append(in, tid)
		}
	}
	return in
}
