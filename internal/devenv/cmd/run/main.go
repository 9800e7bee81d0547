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
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
)

// demo holds what the steps start, and what must be undone at the end.
type demo struct {
	paths devenv.Paths
	once  bool
	tmp   string
	undo  []func() bool // run last first; false when it failed
	cl    *cluster
	cf    *corefile
	c     *devenv.CoreDNS
	// started is when CoreDNS started: older events are not the demo's.
	started time.Time
	// hashes are the SHA512s reload logged: at start-up, then after the edit.
	hashes []string

	mu   sync.Mutex // CoreDNS's output arrives on its own goroutine: whole lines only
	step int
}

func main() {
	once, _ := strconv.ParseBool(os.Getenv("K8S_EVENT_RUN_ONCE"))
	d := &demo{}
	flag.BoolVar(&d.once, "once", once, "stop after showing the events instead of waiting for Ctrl-C (or set K8S_EVENT_RUN_ONCE=1)")
	flag.Parse()
	var err error
	if d.paths, err = devenv.FindPaths(); err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := 0
	switch err := d.show(ctx); {
	case err == nil:
		code = d.keepRunning(ctx)
	case ctx.Err() != nil:
		d.print("", "\n    Interrupted before the demo finished.")
		code = 130
	default:
		d.print("\nFAILED: ", err.Error())
		code = 1
	}
	// Signals stay caught until everything is stopped: etcd and kube-apiserver, unlike
	// CoreDNS, would outlive the demo if a second Ctrl-C ended it now.
	signal.Ignore(os.Interrupt, syscall.SIGTERM)
	for i := len(d.undo) - 1; i >= 0; i-- {
		if !d.undo[i]() && code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// show runs steps 1 to 5: from nothing to events in the API.
func (d *demo) show(ctx context.Context) (err error) {
	if d.tmp, err = os.MkdirTemp("", "k8s-event-demo-"); err != nil {
		return err
	}
	d.atExit("removing "+d.tmp, func() error { return os.RemoveAll(d.tmp) })
	for _, step := range []func(context.Context) error{d.startCluster, d.writeCorefile, d.startCoreDNS, d.makeLogLines, d.showEvents} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// keepRunning is step 6: CoreDNS runs until Ctrl-C, or until it exits on its own.
func (d *demo) keepRunning(ctx context.Context) int {
	if d.once {
		d.begin("Stop", "K8S_EVENT_RUN_ONCE is set: the demo stops here instead of running until Ctrl-C.")
		return 0
	}
	d.begin("Keep running",
		"CoreDNS keeps running and reporting: query it, edit the Corefile, watch the events.",
		fmt.Sprintf("For instance: dig @127.0.0.1 -p %d example.org", d.cf.dnsPort))
	d.say("Running. Ctrl-C to stop.")
	select {
	case <-ctx.Done():
		d.print("", "\n    Stopping.")
		return 0
	case <-d.c.Done():
		d.print("", "\n    CoreDNS exited on its own: "+d.c.ExitStatus()+". Stopping.")
		return 1
	}
}

// atExit adds what to undo at the end, saying what it does.
func (d *demo) atExit(what string, do func() error) {
	d.undo = append(d.undo, func() bool {
		d.say("%s", what)
		if err := do(); err != nil {
			d.say("  failed: %v", err)
			return false
		}
		return true
	})
}

// begin starts the next of the 6 numbered steps with a title and an explanation.
func (d *demo) begin(title string, explain ...string) {
	d.step++
	d.print("", fmt.Sprintf("\n==> Step %d/6: %s", d.step, title))
	d.print("    ", strings.Join(explain, "\n")+"\n\n")
}

// say prints a line of the demo's own commentary.
func (d *demo) say(format string, args ...any) { d.print("    ", fmt.Sprintf(format, args...)) }

// print prints text, each line behind prefix.
func (d *demo) print(prefix, text string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for l := range strings.SplitSeq(strings.TrimSuffix(text, "\n"), "\n") {
		fmt.Println(strings.TrimRight(prefix+l, " "))
	}
}
