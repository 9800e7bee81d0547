// Package e2e holds the end-to-end tests of k8s_event: the real CoreDNS binary, built
// with the plugin, against a real kube-apiserver and etcd on loopback ports, all run by
// package devenv.
//
// Run them with `make e2e` from the repository root (or `go test` here, once `make
// controlplane` has built the binaries). One control plane serves the whole package.
// Each test reports on a Pod object of its own, so the events of tests running side by
// side never mix. The tests that change what every test shares (the API server, the
// RBAC rules) are not parallel: they run first.
package e2e

import (
	"context"
	"flag"
	"log"
	"os"
	"testing"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
)

// suite is what TestMain prepares for every test.
var suite struct {
	err        error // why the suite cannot run: every test fails with it
	paths      devenv.Paths
	cp         *devenv.ControlPlane
	kubeconfig string // ServiceAccount kube-system/coredns, for the Corefiles' kubeapi
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runSuite(m))
}

// runSuite starts the shared control plane, runs the tests and stops it. When something
// is missing it still runs the tests, which then fail saying what: an end-to-end test
// that cannot run is a failure, never a skip.
func runSuite(m *testing.M) int {
	if suite.paths, suite.err = devenv.FindPaths(); suite.err != nil {
		return m.Run()
	}
	began := time.Now()
	if suite.cp, suite.err = devenv.StartControlPlane(suite.paths.BinDir); suite.err != nil {
		return m.Run()
	}
	defer func() {
		if err := suite.cp.Stop(); err != nil {
			log.Printf("stopping the control plane: %v", err)
		}
	}()
	// Neither Ctrl-C nor -timeout, which kill the test binary, may leave etcd and
	// kube-apiserver running.
	defer suite.cp.StopOnSignal()()
	if d := flag.Lookup("test.timeout").Value.(flag.Getter).Get().(time.Duration); d > time.Minute {
		defer time.AfterFunc(d-30*time.Second, func() { suite.cp.Stop() }).Stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	suite.kubeconfig, suite.err = suite.cp.ServiceAccountKubeconfig(ctx, devenv.CoreDNSNamespace, "coredns")
	log.Printf("control plane ready after %v", time.Since(began).Round(time.Millisecond))
	return m.Run()
}

// requireSuite fails t when the suite could not start, and returns the control plane.
func requireSuite(t *testing.T) *devenv.ControlPlane {
	t.Helper()
	if suite.err != nil {
		t.Fatal(suite.err)
	}
	return suite.cp
}
