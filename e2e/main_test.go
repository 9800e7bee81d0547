// Package e2e holds the end-to-end tests of k8s_event: the real CoreDNS binary, built
// with the plugin, against a real kube-apiserver and etcd on loopback ports.
//
// Run them with `make e2e` from the repository root, which sets the environment below.
// One control plane serves the whole package. Each test reports on a Pod object of its
// own, so the events of tests running side by side never mix.
package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coredns/k8s_event/e2e/controlplane"
)

// Environment variables `make e2e` sets.
const (
	envBinDir  = "K8S_EVENT_BIN_DIR" // etcd, kube-apiserver and kubectl (make controlplane)
	envCoreDNS = "K8S_EVENT_COREDNS" // CoreDNS built with k8s_event (make coredns)
	envRoot    = "K8S_EVENT_ROOT"    // the repository root, for deploy/*.yaml
)

// controlPlaneStartTimeout bounds starting etcd and kube-apiserver in TestMain.
const controlPlaneStartTimeout = 3 * time.Minute

// suite is what TestMain prepares for every test.
var suite struct {
	err     error // why the suite cannot run; every test fails with it
	binDir  string
	coredns string
	root    string
	cp      *controlplane.ControlPlane
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runSuite(m))
}

// runSuite starts the shared control plane, runs the tests and stops it. When something
// is missing it still runs the tests, which then fail saying what is missing: an
// end-to-end test that cannot run is a failure, never a skip.
func runSuite(m *testing.M) int {
	if suite.err = readEnv(); suite.err != nil {
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), controlPlaneStartTimeout)
	defer cancel()
	began := time.Now()
	cp, err := controlplane.Start(ctx, controlplane.Options{BinDir: suite.binDir, AuditLog: true, Logf: log.Printf})
	if err != nil {
		suite.err = fmt.Errorf("starting the control plane: %w", err)
		return m.Run()
	}
	log.Printf("control plane ready after %v", time.Since(began).Round(time.Millisecond))
	suite.cp = cp
	defer func() {
		if err := cp.Stop(); err != nil {
			log.Printf("stopping the control plane: %v", err)
		}
	}()
	return m.Run()
}

// readEnv fills suite from the environment and checks that every file is there.
func readEnv() error {
	var errs []error
	need := func(name, hint string) string {
		v := os.Getenv(name)
		if v == "" {
			errs = append(errs, fmt.Errorf("%s is not set: %s (make e2e sets it)", name, hint))
		}
		return v
	}
	suite.binDir = need(envBinDir, "the directory of etcd, kube-apiserver and kubectl built by make controlplane")
	suite.coredns = need(envCoreDNS, "the CoreDNS binary with k8s_event built by make coredns")
	suite.root = need(envRoot, "the repository root")
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	check := func(path, hint string) {
		if fi, err := os.Stat(path); err != nil {
			errs = append(errs, fmt.Errorf("%v (%s)", err, hint))
		} else if fi.IsDir() {
			errs = append(errs, fmt.Errorf("%s is a directory, not a file (%s)", path, hint))
		}
	}
	for _, name := range []string{"etcd", "kube-apiserver", "kubectl"} {
		check(filepath.Join(suite.binDir, name), envBinDir+": build it with make controlplane")
	}
	check(suite.coredns, envCoreDNS+": build it with make coredns")
	for _, f := range []string{rbacFile(), clusterRoleFile(), parserTestFile()} {
		check(f, envRoot+" must be the repository root")
	}
	return errors.Join(errs...)
}

// requireSuite fails t when the suite could not start, and returns the control plane.
func requireSuite(t *testing.T) *controlplane.ControlPlane {
	t.Helper()
	if suite.err != nil {
		t.Fatal(suite.err)
	}
	return suite.cp
}

// rbacFile grants the coredns ServiceAccount what k8s_event needs.
func rbacFile() string { return filepath.Join(suite.root, "deploy", "rbac.yaml") }

// clusterRoleFile is the standard system:coredns ClusterRole of the kubernetes plugin.
func clusterRoleFile() string { return filepath.Join(suite.root, "deploy", "coredns-clusterrole.yaml") }

// parserTestFile holds the bad Corefiles of the parser's unit tests.
func parserTestFile() string { return filepath.Join(suite.root, "setup_test.go") }
