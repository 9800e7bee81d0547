package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	readyTimeout   = 30 * time.Second // CoreDNS start-up, until its banner
	stopGrace      = 10 * time.Second // SIGTERM to exit, before SIGKILL
	outputTailSize = 150              // lines of CoreDNS output printed when a test fails
)

// coreDNS is one ./coredns process, its Corefile and everything it printed.
type coreDNS struct {
	t    *testing.T
	conf string // the Corefile's path
	cmd  *exec.Cmd
	out  *output

	done    chan struct{} // closed when the process has been reaped
	waitErr error         // cmd.Wait's result, once done is closed
}

// startCoreDNS runs ./coredns with corefile and env (added to this process's environment,
// without any COREDNS_ variable of its own), and waits until it has started. It is
// stopped, and its output printed if the test failed, when the test ends.
func startCoreDNS(t *testing.T, corefile string, env ...string) *coreDNS {
	t.Helper()
	c := launchCoreDNS(t, corefile, env...)
	c.waitReady()
	return c
}

// launchCoreDNS starts ./coredns without waiting for it to be ready.
func launchCoreDNS(t *testing.T, corefile string, env ...string) *coreDNS {
	t.Helper()
	requireSuite(t)
	dir := t.TempDir()
	c := &coreDNS{t: t, conf: filepath.Join(dir, "Corefile"), out: &output{}, done: make(chan struct{})}
	c.writeCorefile(corefile)

	c.cmd = exec.Command(suite.coredns, "-conf", c.conf)
	c.cmd.Dir = dir
	c.cmd.Env = append(environWithout("COREDNS_"), env...)
	c.cmd.Stdout = c.out
	c.cmd.Stderr = c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", suite.coredns, err)
	}
	go func() {
		c.waitErr = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		if err := c.stop(); err != nil {
			t.Errorf("stopping CoreDNS: %v", err)
		}
		if t.Failed() {
			t.Logf("Corefile:\n%s\nCoreDNS output (last %d lines):\n%s", corefile, outputTailSize, c.tail(outputTailSize))
		}
	})
	return c
}

func environWithout(prefix string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix) {
			env = append(env, kv)
		}
	}
	return env
}

// writeCorefile replaces the Corefile at once (write and rename), so that the reload
// plugin never reads half a file.
func (c *coreDNS) writeCorefile(corefile string) {
	c.t.Helper()
	tmp := c.conf + ".new"
	if err := os.WriteFile(tmp, []byte(corefile), 0o644); err != nil {
		c.t.Fatal(err)
	}
	if err := os.Rename(tmp, c.conf); err != nil {
		c.t.Fatal(err)
	}
}

// waitReady waits for the banner CoreDNS prints once its servers are up.
func (c *coreDNS) waitReady() {
	c.t.Helper()
	c.waitLine(readyTimeout, "the CoreDNS start-up banner", func(l string) bool { return strings.HasPrefix(l, "CoreDNS-") })
}

// waitLine polls the output until a line satisfies match, and returns it. It fails the
// test if the process exits first or the timeout passes.
func (c *coreDNS) waitLine(timeout time.Duration, what string, match func(string) bool) string {
	c.t.Helper()
	var found string
	c.waitOutput(timeout, what, func(lines []string) bool {
		for _, l := range lines {
			if match(l) {
				found = l
				return true
			}
		}
		return false
	})
	return found
}

// waitOutput polls the output until cond holds for its lines, like waitLine.
func (c *coreDNS) waitOutput(timeout time.Duration, what string, cond func(lines []string) bool) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond(c.lines()) {
			return
		}
		if exited, err := c.exited(); exited {
			if cond(c.lines()) { // the line may have come with the exit
				return
			}
			c.t.Fatalf("CoreDNS exited (%v) before printing %s", err, what)
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("CoreDNS did not print %s within %v", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lines returns the complete lines printed so far.
func (c *coreDNS) lines() []string { return c.out.lines() }

// tail returns the last n lines printed, as one string.
func (c *coreDNS) tail(n int) string {
	lines := c.lines()
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d lines before)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// exited reports whether the process has ended, and how.
func (c *coreDNS) exited() (bool, error) {
	select {
	case <-c.done:
		return true, c.waitErr
	default:
		return false, nil
	}
}

// waitExit waits for the process to end on its own and returns its exit code; it fails
// the test if that takes longer than timeout.
func (c *coreDNS) waitExit(timeout time.Duration) int {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(timeout):
		c.t.Fatalf("CoreDNS still running after %v", timeout)
	}
	return exitCode(c.waitErr)
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// pid is the process id.
func (c *coreDNS) pid() int { return c.cmd.Process.Pid }

// signal sends sig to the process.
func (c *coreDNS) signal(sig syscall.Signal) {
	c.t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		c.t.Fatalf("signal %v: %v", sig, err)
	}
}

// stop ends the process with SIGTERM, then SIGKILL after stopGrace. It returns an error
// if the process does not end cleanly on SIGTERM; a process that already ended is left
// to the test to judge.
func (c *coreDNS) stop() error {
	if exited, _ := c.exited(); exited {
		return nil
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-c.done:
		if code := exitCode(c.waitErr); code != 0 {
			return fmt.Errorf("exit code %d after SIGTERM (%v)", code, c.waitErr)
		}
		return nil
	case <-time.After(stopGrace):
	}
	c.cmd.Process.Kill()
	<-c.done
	return fmt.Errorf("still running %v after SIGTERM: killed", stopGrace)
}

// vmHWM reads the peak resident set size of the running process, in bytes.
func (c *coreDNS) vmHWM() int64 {
	c.t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.pid()))
	if err != nil {
		c.t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err != nil {
				c.t.Fatalf("parse %q: %v", l, err)
			}
			return kb * 1024
		}
	}
	c.t.Fatalf("no VmHWM in /proc/%d/status", c.pid())
	return 0
}

// output collects what a process prints, safe for concurrent use.
type output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

// lines returns the complete (newline-terminated) lines written so far.
func (o *output) lines() []string {
	o.mu.Lock()
	s := o.buf.String()
	o.mu.Unlock()
	end := strings.LastIndexByte(s, '\n')
	if end < 0 {
		return nil
	}
	return strings.Split(s[:end], "\n")
}

// String returns everything written so far.
func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}
