package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/coredns/k8s_event/e2e/controlplane"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Names the demo gives what it creates on its own control plane.
const (
	demoPod       = "coredns-demo"
	demoNamespace = "kube-system"
	demoNode      = "demo-node"
)

// cluster is the Kubernetes API the demo's CoreDNS reports to, and how the demo looks at
// what arrives there.
type cluster struct {
	admin kubernetes.Interface // reads the events
	// adminKubeconfig is the KUBECONFIG for kubectl; empty to keep the environment's.
	adminKubeconfig string
	// coreDNSKubeconfig is the kubeconfig the Corefile's kubeapi block uses.
	coreDNSKubeconfig string
	kubectl           string // path of kubectl, empty when there is none

	// Where the events go and what they are about: the Pod in kube-system, or, without
	// a Pod, the Namespace default (the plugin's fallback).
	eventNamespace string
	objectKind     string
	objectName     string
	podUID         types.UID // empty without a Pod

	// coreDNSEnv is what CoreDNS learns about its Pod, as the Downward API would tell it.
	coreDNSEnv []string
}

// eventSelector selects the events the demo's CoreDNS writes.
func (cl *cluster) eventSelector() string {
	return fields.Set{
		"involvedObject.kind": cl.objectKind,
		"involvedObject.name": cl.objectName,
		"source":              "CoreDNS",
	}.String()
}

// startLocal starts etcd and kube-apiserver on loopback and prepares kube-system the way a
// cluster has it for CoreDNS: the RBAC of deploy/rbac.yaml and a Pod for CoreDNS to report
// on. Stopping both and removing their directory is handed to atExit.
func startLocal(ctx context.Context, env settings, con *console, atExit func(what string, f func() error)) (*cluster, error) {
	cp, err := controlplane.Start(ctx, controlplane.Options{
		BinDir: env.binDir,
		Logf:   con.Say,
	})
	if err != nil {
		return nil, err
	}
	atExit("stopping the control plane (etcd, kube-apiserver) and removing its directory", cp.Stop)
	rbac := filepath.Join(env.root, "deploy", "rbac.yaml")
	con.Say("applying %s and creating Pod %s/%s (it stays Pending: there is no node)",
		filepath.Join("deploy", "rbac.yaml"), demoNamespace, demoPod)
	bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	pod, err := cp.Bootstrap(bctx, controlplane.BootstrapOptions{Files: []string{rbac}, PodName: demoPod})
	if err != nil {
		return nil, fmt.Errorf("bootstrap the control plane: %w", err)
	}
	con.Say("Pod %s/%s has UID %s", pod.Namespace, pod.Name, pod.UID)
	return &cluster{
		admin:             cp.AdminClient(),
		adminKubeconfig:   cp.AdminKubeconfig(),
		coreDNSKubeconfig: cp.CoreDNSKubeconfig(),
		kubectl:           cp.KubectlPath(),
		eventNamespace:    demoNamespace,
		objectKind:        "Pod",
		objectName:        demoPod,
		podUID:            pod.UID,
		coreDNSEnv: []string{
			"COREDNS_POD_NAME=" + demoPod,
			"COREDNS_NAMESPACE=" + demoNamespace,
			"COREDNS_NODE_NAME=" + demoNode,
			// COREDNS_POD_UID is left unset on purpose: the plugin then looks the UID up.
		},
	}, nil
}

// useKubeconfig uses the cluster of $KUBECONFIG as it is: the demo creates nothing there,
// and CoreDNS, running as that user and knowing no Pod, reports on the Namespace default.
// A KUBECONFIG naming several files is merged into one in dir, since the kubeapi plugin
// reads a single file.
func useKubeconfig(env settings, dir string, con *console) (*cluster, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	restConfig, err := loader.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("KUBECONFIG=%s: %w", env.kubeconfig, err)
	}
	raw, err := loader.RawConfig()
	if err != nil {
		return nil, err
	}
	client, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return nil, err
	}
	con.Say("cluster: %s (context %q)", restConfig.Host, raw.CurrentContext)

	coreDNSKubeconfig := env.kubeconfig
	if files := filepath.SplitList(env.kubeconfig); len(files) != 1 {
		merged, err := rules.Load() // relative file references come back absolute
		if err != nil {
			return nil, err
		}
		coreDNSKubeconfig = filepath.Join(dir, "merged.kubeconfig")
		if err := clientcmd.WriteToFile(*merged, coreDNSKubeconfig); err != nil {
			return nil, err
		}
		con.Say("KUBECONFIG names %d files: merged them into %s for CoreDNS", len(files), coreDNSKubeconfig)
	}

	return &cluster{
		admin:             client,
		coreDNSKubeconfig: coreDNSKubeconfig,
		kubectl:           findKubectl(env.binDir),
		eventNamespace:    "default",
		objectKind:        "Namespace",
		objectName:        "default",
		// Without COREDNS_POD_NAME and COREDNS_NAMESPACE the plugin reports on the
		// Namespace default: nothing needs creating in someone else's cluster.
		coreDNSEnv: []string{"COREDNS_NODE_NAME=" + demoNode},
	}, nil
}

// findKubectl prefers the user's kubectl, matching their cluster, over the one built here.
func findKubectl(binDir string) string {
	if p, err := exec.LookPath("kubectl"); err == nil {
		return p
	}
	p := filepath.Join(binDir, "kubectl")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}
