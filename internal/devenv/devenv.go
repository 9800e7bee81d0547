// Package devenv is the development environment of k8s_event: what the end-to-end
// tests (e2e/), the benchmarks (bench/) and the `make run` demo (cmd/run) share.
//
//   - FindPaths finds the repository, the control-plane binaries and ./coredns.
//   - StartControlPlane runs etcd and kube-apiserver (controller-runtime's envtest) with
//     RBAC and an audit log. Its admin client and kubeconfig, ServiceAccountKubeconfig,
//     Apply (any YAML file), CoreDNSPod, StopAPIServer and StartAPIServer (same port,
//     same etcd), Ungated (a kubeconfig that bypasses the readiness gate) and AuditEvents
//     are what a test of the plugin needs from it; DownwardEnv is the Pod environment
//     deploy/'s Deployment gives CoreDNS. Options
//     change kube-apiserver's flags (WithEventRateLimit, WithAPIServerFlag); CPUTime
//     reads the CPU time of its processes.
//   - StartCoreDNS runs ./coredns from a Corefile's text with an environment; the
//     CoreDNS it returns keeps the output lines, waits for lines (WaitLine, WaitOutput),
//     rewrites the Corefile for the reload plugin, or reloads it now (Reload, SIGUSR1),
//     and stops.
//   - The install as an operator runs it: ReadmeCommands reads the commands of a README
//     section (ReadmeInstall, ReadmeUninstall, ReadmeUpgrade), Paths.RunCommand runs one
//     with sh on a cluster; Paths.KubeadmCoreDNS makes CoreDNS with kubeadm's own addon
//     step (Paths.Kubeadm runs any kubeadm command, KubernetesVersion is its version).
//   - Helpers: FreePort and Loopback, Query and Exchange (DNS), ListEvents and WaitEvents,
//     ScrapeMetrics, Percentile and Median.
//
// Every function returns errors rather than failing a test, so that commands can use
// it too; the e2e package wraps what it calls often. Waits end with their context.
package devenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Paths are the files every harness needs.
type Paths struct {
	Root    string // the repository: deploy/, tools/
	BinDir  string // etcd, kube-apiserver and kubectl (make controlplane)
	CoreDNS string // CoreDNS built with kubeapi and k8s_event (make coredns)
}

// Deploy is the path of a file in deploy/, such as "rbac.yaml".
func (p Paths) Deploy(name string) string { return filepath.Join(p.Root, "deploy", name) }

// Testdata is the path of a file in the plugin's testdata/.
func (p Paths) Testdata(name string) string { return filepath.Join(p.Root, "testdata", name) }

// FindPaths reads K8S_EVENT_ROOT, K8S_EVENT_BIN_DIR and K8S_EVENT_COREDNS, which the
// Makefile sets. Unset, the root is the repository above the working directory, the
// binaries are in its .bin (StartControlPlane checks them), and ./coredns is built
// there. It fails, saying what to run, when a file is missing.
func FindPaths() (Paths, error) {
	p := Paths{Root: os.Getenv("K8S_EVENT_ROOT"), BinDir: os.Getenv("K8S_EVENT_BIN_DIR"), CoreDNS: os.Getenv("K8S_EVENT_COREDNS")}
	if p.Root == "" {
		root, err := findRoot()
		if err != nil {
			return p, err
		}
		p.Root = root
	}
	if p.BinDir == "" {
		p.BinDir = filepath.Join(p.Root, ".bin")
	}
	if p.CoreDNS == "" {
		p.CoreDNS = filepath.Join(p.Root, "coredns")
		build := exec.Command("make", "-C", p.Root, "--no-print-directory", "coredns")
		if out, err := build.CombinedOutput(); err != nil {
			return p, fmt.Errorf("building ./coredns: %v\n%s", err, out)
		}
	}
	if _, err := os.Stat(p.CoreDNS); err != nil {
		return p, fmt.Errorf("%v (build it with make coredns)", err)
	}
	if _, err := os.Stat(p.Deploy("rbac.yaml")); err != nil {
		return p, fmt.Errorf("%v (K8S_EVENT_ROOT must be the repository)", err)
	}
	return p, nil
}

// findRoot walks up from the working directory to the directory holding the supported
// CoreDNS versions (tools/tree/versions.txt).
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, versionsFile)); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("K8S_EVENT_ROOT is not set and no repository is above the working directory")
		}
		dir = parent
	}
}
