// Package e2e holds the end-to-end tests of k8s_event: the real CoreDNS binary, built
// with the plugin, against a real kube-apiserver and etcd on loopback ports, all run by
// package devenv.
//
// Run them with `make e2e` from the repository root (or `go test` here, once `make
// controlplane` has built the binaries). Every test runs in parallel. One cluster
// (cluster_test.go) serves most of them: each reports on a Pod object of its own, so the
// events of tests running side by side never mix. A test that stops the API server or
// changes the RBAC rules starts a cluster of its own.
package e2e

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"testing"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
)

// suite is what TestMain prepares for every test.
var suite struct {
	err    error // why the suite cannot run: every test fails with it
	paths  devenv.Paths
	shared *cluster // see sharedCluster
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runSuite(m))
}

// runSuite starts the shared cluster, runs the tests and stops it. When something
// is missing it still runs the tests, which then fail saying what: an end-to-end test
// that cannot run is a failure, never a skip.
func runSuite(m *testing.M) int {
	if suite.paths, suite.err = devenv.FindPaths(); suite.err != nil {
		return m.Run()
	}
	// The suite's set-up may take as long as the machine needs: until a minute before
	// -timeout, which then stops the control plane.
	ctx := context.Background()
	timeout := flag.Lookup("test.timeout").Value.(flag.Getter).Get().(time.Duration)
	if timeout > 2*time.Minute {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout-cleanupMargin)
		defer cancel()
	}
	began := time.Now()
	cp, err := devenv.StartControlPlane(ctx, suite.paths.BinDir)
	if suite.err = err; err != nil {
		return m.Run()
	}
	defer func() {
		if err := cp.Stop(); err != nil {
			log.Printf("stopping the control plane: %v", err)
		}
	}()
	// Neither Ctrl-C nor -timeout, which kill the test binary, may leave etcd and
	// kube-apiserver running.
	defer cp.StopOnSignal()()
	if timeout > time.Minute {
		defer time.AfterFunc(timeout-30*time.Second, func() { cp.Stop() }).Stop()
	}
	suite.shared, err = setUpCluster(ctx, cp)
	if err != nil {
		suite.err = fmt.Errorf("set-up: applying deploy/rbac.yaml to the shared cluster and getting a coredns token: failed after %v: %w",
			time.Since(began).Round(time.Millisecond), err)
	}
	log.Printf("control plane ready after %v", time.Since(began).Round(time.Millisecond))
	return m.Run()
}

// requireSuite fails t when the suite could not start.
func requireSuite(t *testing.T) {
	t.Helper()
	if suite.err != nil {
		t.Fatal(suite.err)
	}
}
