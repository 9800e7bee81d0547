package devenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long CoreDNS may take to exit after SIGTERM (k8s_event alone may
// spend 2 s writing its queued events) before it is killed.
const stopGrace = 10 * time.Second

// CoreDNSOptions says how to run ./coredns.
type CoreDNSOptions struct {
	Binary   string            // Paths.CoreDNS
	Corefile string            // the Corefile's text
	Dir      string            // where the Corefile is written
	Env      []string          // added to this process's environment, less its COREDNS_* variables
	Echo     func(line string) // if set, receives each line CoreDNS prints, as it prints it
	// KeepLines bounds the lines kept for Lines and the waits to the last KeepLines
	// (all when 0): a flood of queries makes millions.
	KeepLines int
	// Nice, when above 0, runs CoreDNS at that nice value (through nice(1), so that every
	// thread of it has it): a load that shares the machine with an API server and stands
	// for processes on other machines.
	Nice int
}

// CoreDNS is a running ./coredns and everything it printed.
type CoreDNS struct {
	Conf string // the Corefile's path
	cmd  *exec.Cmd
	out  lineBuffer
	done chan struct{} // closed once the process is reaped and its output read
	err  error         // cmd.Wait's result, once done is closed
}

// StartCoreDNS writes the Corefile and starts CoreDNS on it, without waiting for it to
// serve (WaitReady does). The kernel kills it if this process dies.
func StartCoreDNS(o CoreDNSOptions) (*CoreDNS, error) {
	c := &CoreDNS{Conf: filepath.Join(o.Dir, "Corefile"), out: lineBuffer{echo: o.Echo, keep: o.KeepLines}, done: make(chan struct{})}
	if err := c.WriteCorefile(o.Corefile); err != nil {
		return nil, err
	}
	name, args := o.Binary, []string{"-conf", c.Conf}
	if o.Nice > 0 {
		name, args = "nice", append([]string{"-n", strconv.Itoa(o.Nice), o.Binary}, args...)
	}
	c.cmd = exec.Command(name, args...)
	c.cmd.Dir = o.Dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "COREDNS_") {
			c.cmd.Env = append(c.cmd.Env, kv)
		}
	}
	c.cmd.Env = append(c.cmd.Env, o.Env...)
	c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.out
	c.cmd.SysProcAttr = sysProcAttr()
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", o.Binary, err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// WriteCorefile replaces the Corefile at once (write, then rename), so that the reload
// plugin never reads half a file.
func (c *CoreDNS) WriteCorefile(text string) error {
	if err := os.WriteFile(c.Conf+".new", []byte(text), 0o644); err != nil {
		return err
	}
	return os.Rename(c.Conf+".new", c.Conf)
}

// Lines returns the complete lines CoreDNS printed so far.
func (c *CoreDNS) Lines() []string { return c.out.lines() }

// Tail returns the last n lines printed, as one string.
func (c *CoreDNS) Tail(n int) string {
	l := c.Lines()
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

// WaitOutput waits until cond holds for the lines printed so far. It fails when CoreDNS
// exits first, or ctx ends; what names the wait in the error.
func (c *CoreDNS) WaitOutput(ctx context.Context, what string, cond func(lines []string) bool) error {
	for {
		if cond(c.Lines()) {
			return nil
		}
		select {
		case <-c.done:
			if cond(c.Lines()) { // it came with the exit
				return nil
			}
			return fmt.Errorf("CoreDNS exited (%v) before printing %s", c.err, what)
		case <-ctx.Done():
			return fmt.Errorf("CoreDNS did not print %s: %w", what, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// WaitLine waits for a line that match accepts, printed at any time, and returns it.
func (c *CoreDNS) WaitLine(ctx context.Context, what string, match func(line string) bool) (string, error) {
	var found string
	err := c.WaitOutput(ctx, what, func(lines []string) bool {
		for _, l := range lines {
			if match(l) {
				found = l
				return true
			}
		}
		return false
	})
	return found, err
}

// WaitReady waits for the banner CoreDNS prints once every server is up.
func (c *CoreDNS) WaitReady(ctx context.Context) error {
	_, err := c.WaitLine(ctx, "its start-up banner", func(l string) bool { return strings.HasPrefix(l, "CoreDNS-") })
	return err
}

// Done is closed once CoreDNS has exited and its output is read.
func (c *CoreDNS) Done() <-chan struct{} { return c.done }

// Exited reports whether CoreDNS has ended, and cmd.Wait's error.
func (c *CoreDNS) Exited() (bool, error) {
	select {
	case <-c.done:
		return true, c.err
	default:
		return false, nil
	}
}

// WaitExit waits for CoreDNS to end on its own and returns its exit code.
func (c *CoreDNS) WaitExit(ctx context.Context) (int, error) {
	select {
	case <-c.done:
		return c.cmd.ProcessState.ExitCode(), nil
	case <-ctx.Done():
		return 0, fmt.Errorf("CoreDNS still running: %w", ctx.Err())
	}
}

// Signal sends sig to CoreDNS.
func (c *CoreDNS) Signal(sig os.Signal) error { return c.cmd.Process.Signal(sig) }

// Stop sends SIGTERM, as Kubernetes does, and SIGKILL after stopGrace. It fails when
// CoreDNS does not exit cleanly; a process that had already ended is left to the caller
// to judge (Exited).
func (c *CoreDNS) Stop() error {
	if ended, _ := c.Exited(); ended {
		return nil
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-c.done:
		if c.err != nil {
			return fmt.Errorf("CoreDNS ended with %v after SIGTERM", c.err)
		}
		return nil
	case <-time.After(stopGrace):
	}
	c.cmd.Process.Kill()
	<-c.done
	return fmt.Errorf("CoreDNS still running %v after SIGTERM: %w", stopGrace, ErrKilled)
}

// ErrKilled is Stop's error when CoreDNS had to be killed.
var ErrKilled = errors.New("killed")

// ExitStatus describes how CoreDNS ended, once Done is closed.
func (c *CoreDNS) ExitStatus() string {
	if c.cmd.ProcessState != nil {
		return c.cmd.ProcessState.String()
	}
	return fmt.Sprint(c.err)
}

// Pid is CoreDNS's process id.
func (c *CoreDNS) Pid() int { return c.cmd.Process.Pid }

// lineBuffer collects output, safe for concurrent use, and echoes complete lines.
type lineBuffer struct {
	mu       sync.Mutex
	complete []string
	partial  []byte
	echo     func(string)
	keep     int
}

// Write implements io.Writer.
func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.partial = append(b.partial, p...)
	for {
		i := bytes.IndexByte(b.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(b.partial[:i])
		b.partial = b.partial[i+1:]
		b.complete = append(b.complete, line)
		if b.keep > 0 && len(b.complete) >= 2*b.keep {
			b.complete = append([]string(nil), b.complete[len(b.complete)-b.keep:]...)
		}
		if b.echo != nil {
			b.echo(line)
		}
	}
}

func (b *lineBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.keep > 0 && len(b.complete) > b.keep {
		return b.complete[len(b.complete)-b.keep : len(b.complete) : len(b.complete)]
	}
	return b.complete[:len(b.complete):len(b.complete)]
}
