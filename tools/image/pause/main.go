// Command pause is a Pod sandbox's process: it holds the Pod's namespaces, reaps the
// orphans the kernel gives it as the namespace's first process, and exits on SIGTERM or
// SIGINT. `make pause-image` packs it as the sandbox image containerd runs for every Pod.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() { serve(notify()) }

// notify starts delivering the signals the program acts on.
func notify() <-chan os.Signal {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	return signals
}

// serve reaps children on SIGCHLD until SIGTERM or SIGINT, then exits with status 0.
func serve(signals <-chan os.Signal) {
	for s := range signals {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		reap()
	}
}

// reap waits for every child that has exited. Signals coalesce: one SIGCHLD may stand for
// several exits.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
	}
}
