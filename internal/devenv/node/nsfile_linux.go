package node

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// nsDir holds the node's namespaces, each bind-mounted onto a file of its own
// (mountNSPath, netnsPath): a private mount, so those binds reach no other mount
// namespace, and no path of the host, /run/netns among them, is made or mounted for them.
func nsDir() string { return filepath.Join(stateDir(), "ns") }

// makeNSDir makes nsDir a private mount of its own.
func makeNSDir() error { return makePrivateMount(nsDir()) }

// makePrivateMount makes dir, bind-mounted onto itself and private.
func makePrivateMount(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
		return &os.PathError{Op: "bind-mount", Path: dir, Err: err}
	}
	if err := unix.Mount("", dir, "", unix.MS_PRIVATE, ""); err != nil {
		return &os.PathError{Op: "make private", Path: dir, Err: err}
	}
	return nil
}

// holdNewNamespace makes a namespace of the kind flag (unix.CLONE_NEWNS, CLONE_NEWNET)
// on a thread of its own, runs setUp (if not nil) on that thread inside it, and
// bind-mounts it onto the file path in nsDir, which holds it from then on.
//
// The thread is never unlocked, so it ends with its goroutine, except when it is the
// main thread: the runtime keeps that one, parked, for good. So it first goes back to
// the namespace it came from; else /proc/self, which is the main thread, would show the
// node's mounts as the host's.
func holdNewNamespace(flag int, kind, path string, setUp func() error) error {
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		return err
	}
	made, held := make(chan error, 1), make(chan struct{})
	var tid int
	go func() {
		runtime.LockOSThread()
		tid = unix.Gettid()
		own, err := unix.Open("/proc/thread-self/ns/"+kind, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			made <- fmt.Errorf("opening this thread's namespace: %w", err)
			return
		}
		defer unix.Close(own)
		if err = unix.Unshare(flag); err != nil {
			err = fmt.Errorf("unshare: %w", err)
		} else if setUp != nil {
			err = setUp()
		}
		made <- err
		<-held
		unix.Setns(own, flag) // if it fails, the thread still ends unless it is the main one
	}()
	err := <-made
	if err == nil {
		ns := fmt.Sprintf("/proc/%d/task/%d/ns/%s", os.Getpid(), tid, kind)
		if err = unix.Mount(ns, path, "", unix.MS_BIND, ""); err != nil {
			err = &os.PathError{Op: "bind-mount the namespace onto", Path: path, Err: err}
		}
	}
	close(held)
	return err
}
