// Command run is the demo behind `make run`: it starts a Kubernetes API (a local etcd and
// kube-apiserver, or the cluster of $KUBECONFIG), runs ./coredns with the k8s_event plugin,
// makes CoreDNS log a few lines, and shows the Events they became. Ctrl-C stops it all.
//
// It finds its files as package devenv does (K8S_EVENT_BIN_DIR, K8S_EVENT_COREDNS and
// K8S_EVENT_ROOT, which the Makefile sets). K8S_EVENT_RUN_ONCE=1, or -once, stops after
// the events are shown instead of running until Ctrl-C.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/coredns/k8s_event/internal/devenv"
)

// Exit codes.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitInterrupted = 130 // stopped by a signal before the events were shown
)

// settings are the demo's inputs.
type settings struct {
	paths      devenv.Paths
	kubeconfig string // $KUBECONFIG: use that cluster instead of a local one
	once       bool
}

func settingsFromEnv() (settings, error) {
	s := settings{kubeconfig: os.Getenv("KUBECONFIG")}
	once := false
	if v := os.Getenv("K8S_EVENT_RUN_ONCE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return s, fmt.Errorf("K8S_EVENT_RUN_ONCE=%q: want 1 or 0", v)
		}
		once = b
	}
	flag.BoolVar(&s.once, "once", once, "stop after showing the events instead of waiting for Ctrl-C (or set K8S_EVENT_RUN_ONCE=1)")
	flag.Parse()
	var err error
	s.paths, err = devenv.FindPaths()
	return s, err
}

func main() { os.Exit(run()) }

func run() int {
	env, err := settingsFromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	d := &demo{env: env, con: newConsole(os.Stdout, 6)}
	code := exitOK
	switch err := d.show(ctx); {
	case err == nil:
		code = d.keepRunning(ctx)
	case ctx.Err() != nil:
		d.con.Blank()
		d.con.Say("Interrupted before the demo finished.")
		code = exitInterrupted
	default:
		d.con.Blank()
		d.con.Lines("FAILED: ", err.Error())
		code = exitFailed
	}
	// Signals stay caught until everything is stopped: etcd and kube-apiserver, unlike
	// CoreDNS, would outlive the demo if a second Ctrl-C ended it now.
	signal.Ignore(os.Interrupt, syscall.SIGTERM)
	if !d.cleanUp() && code == exitOK {
		code = exitFailed
	}
	return code
}
