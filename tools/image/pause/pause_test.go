package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary is the program when this variable is set, and then says "ready" once it
// handles its signals: until then a Go program dies of SIGTERM.
const runMainVar = "K8S_EVENT_PAUSE_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainVar) != "" {
		signals := notify()
		os.Stdout.WriteString("ready\n")
		serve(signals)
		return
	}
	os.Exit(m.Run())
}

// startPause starts the program, in a PID namespace of its own (as its first process)
// when newPID, and waits until it handles its signals. It is killed at the end of the test
// if it still runs.
func startPause(t *testing.T, newPID bool) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), runMainVar+"=1")
	if newPID {
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	ready := make([]byte, len("ready\n"))
	if _, err := io.ReadFull(stdout, ready); err != nil || string(ready) != "ready\n" {
		t.Fatalf("the program did not say it was ready: %q, %v", ready, err)
	}
	return cmd
}

// poll fails the test unless cond holds within 10 seconds.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// children lists the processes whose parent is pid, with their state (R, S, Z, ...).
func children(pid int) map[int]string {
	kids := map[int]string{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, s := range stats {
		data, err := os.ReadFile(s)
		if err != nil {
			continue // the process ended
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after its ")".
		rest := string(data[strings.LastIndexByte(string(data), ')')+1:])
		f := strings.Fields(rest)
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			child, _ := strconv.Atoi(filepath.Base(filepath.Dir(s)))
			kids[child] = f[0]
		}
	}
	return kids
}

// TestExitsOnSignal: SIGTERM (the kubelet stopping a Pod) and SIGINT end the program with
// status 0.
func TestExitsOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := startPause(t, false)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Errorf("after %v: %v, want exit status 0", sig, err)
			}
		})
	}
}

// TestReapsOrphans: as the first process of a PID namespace, the program inherits the
// namespace's orphans and reaps them when they exit, so that no zombie is left; then
// SIGTERM ends it, and the namespace with it.
func TestReapsOrphans(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("a PID namespace needs root: run make image-check (or make test) as root")
	}
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		t.Fatalf("nsenter is not installed (Debian package util-linux): %v", err)
	}
	cmd := startPause(t, true)
	pid := cmd.Process.Pid
	// A shell in the namespace starts sleep and exits: sleep is orphaned, and the kernel
	// gives it to the namespace's first process.
	ns := exec.Command(nsenter, "--target", strconv.Itoa(pid), "--pid", "--", "sh", "-c", "sleep 600 >/dev/null 2>&1 & exit 0")
	if out, err := ns.CombinedOutput(); err != nil {
		t.Fatalf("nsenter: %v\n%s", err, out)
	}
	var orphan int
	poll(t, "the orphan to become the program's child", func() bool {
		for child := range children(pid) {
			orphan = child
		}
		return orphan != 0
	})
	if err := syscall.Kill(orphan, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	poll(t, "the program to reap its orphan", func() bool { return len(children(pid)) == 0 })

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("after SIGTERM: %v, want exit status 0", err)
	}
}
