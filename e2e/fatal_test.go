package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
)

const (
	// fatalExitTimeout bounds how long CoreDNS may take to exit after a forwarding loop.
	fatalExitTimeout = 60 * time.Second
	// hungExitLimit is how long CoreDNS may run, from start to exit, when the API server
	// does not answer: loop detection (well under a second) and the plugin's bounded
	// write of the fatal line (a few seconds), with room to spare on a busy machine.
	hungExitLimit = 15 * time.Second
)

// TestFatal: a forwarding loop makes the loop plugin log a Fatal line and CoreDNS exit
// with code 1; the CoreDNSFatal event is in the API once the process is gone.
func TestFatal(t *testing.T) {
	t.Parallel()
	pod := newPod(t)
	c := launchLoop(t, kubeapiDirective(), podEnv(pod, false)) // the UID lookup runs meanwhile

	waitFatalExit(t, c, fatalExitTimeout)
	msg := fatalMessage(t, c)
	// Listed once, right after the exit: the event was written before CoreDNS exited.
	evs := podEvents(t, pod)
	if len(evs) != 1 || evs[0].Message != msg || evs[0].Count != 1 {
		t.Fatalf("want exactly one event %q with count 1, got:\n%s", msg, devenv.FormatEvents(evs))
	}
	checkEvent(t, evs[0], pod, reasonFatal)
}

// TestFatalAPIHung: with an API server that accepts connections but never answers,
// CoreDNS still exits promptly after a Fatal line: the plugin's write is bounded.
func TestFatalAPIHung(t *testing.T) {
	t.Parallel()
	requireSuite(t)
	hung := hungServer(t)
	kubeconfig := filepath.Join(t.TempDir(), "hung.kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(fmt.Sprintf(hungKubeconfig, hung)), 0o600); err != nil {
		t.Fatal(err)
	}
	c := launchLoop(t, fmt.Sprintf("kubeapi {\n    kubeconfig %s\n}", kubeconfig),
		[]string{"COREDNS_POD_NAME=hung", "COREDNS_NAMESPACE=kube-system", "COREDNS_NODE_NAME=" + nodeName})
	waitFatalExit(t, c, hungExitLimit)
	fatalMessage(t, c)
}

// waitFatalExit waits at most d for CoreDNS to exit with code 1.
func waitFatalExit(t *testing.T, c *devenv.CoreDNS, d time.Duration) {
	t.Helper()
	code, err := c.WaitExit(timeout(t, d))
	if err != nil || code != 1 {
		t.Fatalf("CoreDNS exited with code %d (%v), want 1 within %v", code, err, d)
	}
}

// launchLoop starts CoreDNS forwarding to itself, which the loop plugin detects at
// start-up, with k8s_event reporting fatal lines only.
func launchLoop(t *testing.T, kubeapi string, env []string) *devenv.CoreDNS {
	t.Helper()
	addr := freeAddr(t)
	return launchCoreDNS(t, serverBlock(rootZone(addr),
		"loop",
		"forward . "+addr, // itself
		kubeapi,
		k8sEventDirective("level fatal"),
	), env...)
}

// fatalMessage returns what follows "[FATAL] " in the loop plugin's line.
func fatalMessage(t *testing.T, c *devenv.CoreDNS) string {
	t.Helper()
	var msg string
	for _, l := range c.Lines() {
		if m, ok := strings.CutPrefix(l, "[FATAL] "); ok {
			msg = m
		}
	}
	if !strings.HasPrefix(msg, "plugin/loop: Loop (") || !strings.Contains(msg, " detected for zone \".\"") {
		t.Fatalf("no [FATAL] plugin/loop: Loop ... detected line, last fatal message %q", msg)
	}
	return msg
}

// hungKubeconfig points at an API server that never answers.
const hungKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: hung
  cluster:
    server: https://%s
    insecure-skip-tls-verify: true
users:
- name: coredns
  user:
    token: never-checked
contexts:
- name: hung
  context:
    cluster: hung
    user: coredns
current-context: hung
`

// hungServer listens on loopback and accepts connections, but never reads or writes
// on them, until the test ends. It returns its address.
func hungServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}
