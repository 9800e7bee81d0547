package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long CoreDNS may take to exit after SIGTERM (k8s_event alone may
// spend 2s writing its queued events) before it is killed.
const stopGrace = 10 * time.Second

// coreDNS is the running ./coredns. Its output is printed line by line behind
// "coredns | " and handed to the watches waiting for a line.
type coreDNS struct {
	cmd     *exec.Cmd
	lines   *lineWatch
	done    chan struct{} // closed once the process has exited and its output is read
	waitErr error         // cmd.Wait's result, valid once done is closed
}

// startCoreDNS runs bin -conf corefile with the environment env. Its output lines go to
// con and to lines, where the caller can set watches before the start, so that none of
// the first lines can slip past.
func startCoreDNS(bin, corefile string, env []string, lines *lineWatch, con *console) (*coreDNS, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-conf", corefile)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	w.Close() // the child has its copy: the read below ends when the child exits
	c := &coreDNS{cmd: cmd, lines: lines, done: make(chan struct{})}
	output := make(chan struct{})
	go func() {
		defer close(output)
		defer r.Close()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			con.Lines("coredns | ", sc.Text())
			c.lines.feed(sc.Text())
		}
	}()
	go func() {
		c.waitErr = cmd.Wait()
		<-output
		close(c.done)
	}()
	return c, nil
}

// exitStatus describes how CoreDNS ended; valid once done is closed.
func (c *coreDNS) exitStatus() string {
	if c.cmd.ProcessState != nil {
		return c.cmd.ProcessState.String()
	}
	return fmt.Sprint(c.waitErr)
}

// stop sends SIGTERM, as Kubernetes does, and kills CoreDNS if it has not exited after
// stopGrace. It reports whether CoreDNS was still running.
func (c *coreDNS) stop() (signalled bool, err error) {
	select {
	case <-c.done:
		return false, nil
	default:
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return true, err
	}
	select {
	case <-c.done:
		return true, nil
	case <-time.After(stopGrace):
	}
	c.cmd.Process.Kill()
	<-c.done
	return true, fmt.Errorf("CoreDNS did not exit within %v of SIGTERM and was killed", stopGrace)
}

// waitLine waits for the line a watch (lines.expect) receives, and fails if CoreDNS
// exits, ctx ends or timeout passes first; what names the line in errors.
func (c *coreDNS) waitLine(ctx context.Context, w <-chan string, timeout time.Duration, what string) (string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case l := <-w:
		return l, nil
	case <-c.done:
		select {
		case l := <-w: // its last words
			return l, nil
		default:
		}
		return "", fmt.Errorf("CoreDNS exited (%s) while the demo waited for %s", c.exitStatus(), what)
	case <-ctx.Done():
		return "", ctx.Err()
	case <-t.C:
		return "", fmt.Errorf("no %s in CoreDNS's output within %v", what, timeout)
	}
}

// lineWatch hands output lines to those waiting for one.
type lineWatch struct {
	mu      sync.Mutex
	waiting []watch
}

type watch struct {
	substrs []string
	found   chan string
}

// expect returns a channel that receives the first line from now on containing every one
// of substrs.
func (lw *lineWatch) expect(substrs ...string) <-chan string {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	w := watch{substrs: substrs, found: make(chan string, 1)}
	lw.waiting = append(lw.waiting, w)
	return w.found
}

func (lw *lineWatch) feed(line string) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	kept := lw.waiting[:0]
	for _, w := range lw.waiting {
		if containsAll(line, w.substrs) {
			w.found <- line
			continue
		}
		kept = append(kept, w)
	}
	lw.waiting = kept
}

func containsAll(s string, substrs []string) bool {
	for _, sub := range substrs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
