package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
)

// Bounds of the demo's waits.
const (
	dnsReadyTimeout = 30 * time.Second
	logLineTimeout  = 15 * time.Second // reload checks the file every 2s
	eventsTimeout   = 60 * time.Second
)

// reloadLine is what the reload plugin logs, at level info, each time a configuration
// starts: at start-up and after every reload.
const reloadLine = "plugin/reload: Running configuration SHA512 = "

// demo holds what the steps start, and what must be undone at the end.
type demo struct {
	env     settings
	con     *console
	undo    []undoTask // run last first by cleanUp
	tmp     string
	cl      *cluster
	cf      *corefile
	coreDNS *devenv.CoreDNS
	// coreDNSStarted is when CoreDNS started: older events are not the demo's.
	coreDNSStarted time.Time
	// configHashes are the SHA512s reload logged: at start-up, then after the edit.
	configHashes []string
}

type undoTask struct {
	what string
	do   func() error
}

func (d *demo) atExit(what string, do func() error) {
	d.undo = append(d.undo, undoTask{what, do})
}

// show runs steps 1 to 5: from nothing to events in the API.
func (d *demo) show(ctx context.Context) error {
	tmp, err := os.MkdirTemp("", "k8s-event-demo-")
	if err != nil {
		return err
	}
	d.tmp = tmp
	d.atExit("removing "+tmp, func() error { return os.RemoveAll(tmp) })

	for _, step := range []func(context.Context) error{d.startCluster, d.writeCorefile, d.startCoreDNS, d.makeLogLines} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return d.showEvents(ctx)
}

// keepRunning is step 6: CoreDNS runs until Ctrl-C, or until it exits on its own.
func (d *demo) keepRunning(ctx context.Context) int {
	if d.env.once {
		d.con.Step("Stop", "K8S_EVENT_RUN_ONCE is set: the demo stops here instead of running until Ctrl-C.")
		return exitOK
	}
	d.con.Step("Keep running",
		"CoreDNS keeps running and reporting: query it, edit the Corefile, watch the events.",
		fmt.Sprintf("For instance: dig @127.0.0.1 -p %d example.org", d.cf.dnsPort))
	d.con.Say("Running. Ctrl-C to stop.")
	select {
	case <-ctx.Done():
		d.con.Blank()
		d.con.Say("Stopping.")
		return exitOK
	case <-d.coreDNS.Done():
		d.con.Blank()
		d.con.Say("CoreDNS exited on its own: %s. Stopping.", d.coreDNS.ExitStatus())
		return exitFailed
	}
}

// cleanUp undoes what the steps did, last first, and reports whether all went well.
func (d *demo) cleanUp() bool {
	ok := true
	for i := len(d.undo) - 1; i >= 0; i-- {
		t := d.undo[i]
		d.con.Say("%s", t.what)
		if err := t.do(); err != nil {
			d.con.Say("  failed: %v", err)
			ok = false
		}
	}
	return ok
}
