// Package node holds the node tests of k8s_event: CoreDNS with the plugin, from the
// project's own image, as kube-system's DNS on a real single-node Kubernetes (package
// internal/devenv/node), installed the way an operator installs it: kubeadm's CoreDNS
// addon, then the README's install commands.
//
// Run them with `make node` (root, Linux). The tests share one node and run one after
// another, each leaving CoreDNS serving; after the last, TestMain checks that the node
// left nothing on the host, run as on a fresh machine.
package node

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	"github.com/coredns/k8s_event/internal/devenv/node"
	"k8s.io/client-go/kubernetes"
)

// suite is what TestMain prepares for every test.
var suite struct {
	err      error // why the suite cannot run: every test fails with it
	paths    devenv.Paths
	node     *node.Node
	client   kubernetes.Interface
	images   node.TestImages
	kubeadm  string // the Corefile kubeadm made
	install  string // the Corefile the install left
	corefile string // the tests' Corefile: the install's, with a 2 s reload
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runSuite(m))
}

// runSuite starts the node, installs CoreDNS on it, runs the tests, stops the node and
// checks the host is as it was, as on a fresh machine: what a fresh machine lacks
// (freshHostPaths) is moved aside for the run, so the check sees the node make it. A
// suite that cannot run still runs its tests, which fail saying why: a node test that
// cannot run is a failure, never a skip.
func runSuite(m *testing.M) (code int) {
	// What a run that was killed left behind is not this run's.
	if suite.err = node.CleanStale(); suite.err != nil {
		return m.Run()
	}
	putBack, err := moveAsideFreshHostPaths()
	defer func() {
		if err := putBack(); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
			code = 1
		}
	}()
	if suite.err = err; err != nil {
		return m.Run()
	}
	before := node.ReadHostState()
	defer func() {
		if d := before.Diff(node.ReadHostState()); len(d) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: the node left on the host:\n  %s\n", joinLines(d))
			code = 1
		}
	}()
	if suite.paths, suite.err = devenv.FindPaths(); suite.err != nil {
		return m.Run()
	}
	if suite.images, suite.err = node.ImagesFromEnv(); suite.err != nil {
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	began := time.Now()
	n, err := node.Start(ctx, suite.paths.BinDir, suite.images.All())
	defer func() {
		if err := n.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: stopping the node: %v\n", err)
			code = 1
		}
	}()
	if suite.err = err; err != nil {
		return m.Run()
	}
	defer stopBeforeKilled(n, putBack)()
	suite.node, suite.client = n, n.AdminClient()
	log.Printf("node Ready in %v", time.Since(began).Round(time.Second))
	if suite.err = installCoreDNS(ctx); suite.err != nil {
		suite.err = fmt.Errorf("%w\n%s", suite.err, diagnose(context.Background()))
		return m.Run()
	}
	log.Printf("CoreDNS with k8s_event serving in %v", time.Since(began).Round(time.Second))
	return m.Run()
}

// stopBeforeKilled stops the node, puts back what was moved aside and exits when the
// test binary is about to be killed (-timeout, 30 s before it) or is interrupted (SIGINT,
// SIGTERM): the containers and the host's changes would outlive it otherwise. The
// function it returns stops watching.
func stopBeforeKilled(n *node.Node, putBack func() error) (cancel func()) {
	sigs, done := make(chan os.Signal, 1), make(chan struct{})
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	var timer <-chan time.Time
	if d := flag.Lookup("test.timeout").Value.(flag.Getter).Get().(time.Duration); d > time.Minute {
		timer = time.After(d - 30*time.Second)
	}
	go func() {
		select {
		case s := <-sigs:
			fmt.Fprintf(os.Stderr, "FAIL: %v: stopping the node\n", s)
		case <-timer:
			fmt.Fprintln(os.Stderr, "FAIL: the tests are about to time out: stopping the node")
		case <-done:
			return
		}
		if err := n.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the node:", err)
		}
		if err := putBack(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(1)
	}()
	return func() { signal.Stop(sigs); close(done) }
}

// setUp fails the test when the suite could not start.
func setUp(t *testing.T) {
	t.Helper()
	if suite.err != nil {
		t.Fatalf("the node suite could not start: %v", suite.err)
	}
}

func joinLines(l []string) string {
	s := ""
	for i, x := range l {
		if i > 0 {
			s += "\n  "
		}
		s += x
	}
	return s
}
