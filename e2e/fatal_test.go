package e2e

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
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
	cl := sharedCluster(t)
	pod := cl.newPod(t)
	c := launchLoop(t, cl.kubeapi(), podEnv(pod, false), "level fatal") // the UID lookup runs meanwhile

	waitFatalExit(t, c, fatalExitTimeout)
	msg := fatalMessage(t, c)
	// Listed once, right after the exit: the event was written before CoreDNS exited.
	evs := cl.events(t, pod)
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
	c := launchLoop(t, "kubeapi {\n    kubeconfig "+hungKubeconfig(t)+"\n}",
		[]string{"COREDNS_POD_NAME=hung", "COREDNS_NAMESPACE=kube-system", "COREDNS_NODE_NAME=" + nodeName}, "level fatal")
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
// start-up, with k8s_event's settings.
func launchLoop(t *testing.T, kubeapi string, env []string, settings ...string) *devenv.CoreDNS {
	t.Helper()
	addr := freeAddr(t)
	return launchCoreDNS(t, serverBlock(rootZone(addr),
		"loop",
		"forward . "+addr, // itself
		kubeapi,
		k8sEventDirective(settings...),
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

// hungKubeconfig writes a kubeconfig for an API server that accepts connections (the
// kernel does, up to its backlog) but never answers, and returns its path.
func hungKubeconfig(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["hung"] = &clientcmdapi.Cluster{Server: "https://" + l.Addr().String(), InsecureSkipTLSVerify: true}
	cfg.AuthInfos["hung"] = &clientcmdapi.AuthInfo{Token: "never-checked"}
	cfg.Contexts["hung"] = &clientcmdapi.Context{Cluster: "hung", AuthInfo: "hung"}
	cfg.CurrentContext = "hung"
	path := filepath.Join(t.TempDir(), "hung.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}
