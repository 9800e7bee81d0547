//go:build linux

package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// proc is one of the node's programs, run inside its network namespace, its output in
// the node's directory (logs/NAME.log).
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// start runs bin (a program built in the node's binaries, or one on $PATH) with args.
func (n *Node) start(name, bin string, args ...string) error {
	if built := filepath.Join(n.binDir, bin); fileExists(built) {
		bin = built
	} else if path, err := exec.LookPath(bin); err == nil {
		bin = path
	}
	log, err := os.OpenFile(n.logPath(name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := Command(context.Background(), bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group, so that Ctrl-C reaches only the test; killed if the test
	// process dies (nsenter execs the program, which keeps the setting).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	n.procs[name] = p
	return nil
}

// stop ends the program named name: SIGTERM, then SIGKILL after grace.
func (n *Node) stop(name string, grace time.Duration) error {
	p := n.procs[name]
	if p == nil {
		return nil
	}
	delete(n.procs, name)
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	p.cmd.Process.Kill()
	<-p.done
	return nil
}

// exited is the error of a program that ended, nil while it runs.
func (n *Node) exited(name string) error {
	p := n.procs[name]
	if p == nil {
		return fmt.Errorf("%s is not running", name)
	}
	select {
	case <-p.done:
		return fmt.Errorf("%s exited: %v\n%s", name, p.err, n.LogTail(name, 20))
	default:
		return nil
	}
}

// anyExited is the first program found that ended.
func (n *Node) anyExited() error {
	var errs []error
	for name := range n.procs {
		errs = append(errs, n.exited(name))
	}
	return errors.Join(errs...)
}

func (n *Node) logPath(name string) string { return n.path(filepath.Join("logs", name+".log")) }

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
