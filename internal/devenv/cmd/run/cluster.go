package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Names the demo gives what it creates on its own control plane.
const (
	demoPod  = "coredns-demo"
	demoNode = "demo-node"
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
	namespace, objectName string
	podUID                types.UID // empty without a Pod

	// coreDNSEnv is what CoreDNS learns about its Pod, as the Downward API would tell it.
	coreDNSEnv []string
}

// startCluster is step 1: a Kubernetes API to report to, local or that of $KUBECONFIG.
func (d *demo) startCluster(ctx context.Context) (err error) {
	if kubeconfig := os.Getenv("KUBECONFIG"); kubeconfig != "" {
		d.begin("Use the cluster of $KUBECONFIG",
			"KUBECONFIG is set, so the demo uses that cluster and creates nothing in it. CoreDNS",
			"runs as your user without COREDNS_POD_NAME and COREDNS_NAMESPACE: the plugin then",
			"reports on the Namespace default (its fallback when it does not know its Pod).")
		if d.cl, err = d.useKubeconfig(kubeconfig); err != nil {
			return err
		}
		d.say("\nTo watch the events arrive, run in another terminal:")
		d.say("    kubectl get events -n default --field-selector source=CoreDNS -w")
		return nil
	}
	d.begin("Start a local Kubernetes API",
		"KUBECONFIG is not set, so the demo runs its own etcd and kube-apiserver on 127.0.0.1",
		"(no controller-manager, no node). It applies deploy/rbac.yaml, which lets",
		"ServiceAccount kube-system/coredns write Events and look up its Pod, and creates",
		"the Pod "+devenv.CoreDNSNamespace+"/"+demoPod+" for CoreDNS to report on.")
	if d.cl, err = d.startLocal(ctx); err != nil {
		return err
	}
	d.say("\nTo watch the events arrive, run in another terminal:")
	d.say("    export KUBECONFIG=%s", d.cl.adminKubeconfig)
	d.say("    kubectl get events -n %s -w", devenv.CoreDNSNamespace)
	d.say("(kubectl is %s if it is not on your PATH; the kubeconfig goes away with the demo)", filepath.Join(".bin", "kubectl"))
	return nil
}

// startLocal starts etcd and kube-apiserver on loopback and prepares kube-system the way a
// cluster has it for CoreDNS: the RBAC of deploy/rbac.yaml, a Pod for CoreDNS to report on
// and a token of its ServiceAccount.
func (d *demo) startLocal(ctx context.Context) (*cluster, error) {
	d.say("starting etcd and kube-apiserver")
	cp, err := devenv.StartControlPlane(ctx, d.paths.BinDir)
	if err != nil {
		return nil, err
	}
	d.atExit("stopping the control plane (etcd, kube-apiserver) and removing its directory", cp.Stop)
	d.say("kube-apiserver is ready at %s (logs in %s)", cp.Host(), cp.LogPath())
	d.say("applying %s and creating Pod %s/%s (it stays Pending: there is no node)",
		filepath.Join("deploy", "rbac.yaml"), devenv.CoreDNSNamespace, demoPod)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	kubeconfig, err := cp.CoreDNSKubeconfig(ctx, d.paths.Deploy("rbac.yaml"))
	if err != nil {
		return nil, err
	}
	pod, err := cp.CoreDNSPod(ctx, demoPod)
	if err != nil {
		return nil, err
	}
	d.say("Pod %s/%s has UID %s", pod.Namespace, pod.Name, pod.UID)
	return &cluster{
		admin:             cp.AdminClient(),
		adminKubeconfig:   cp.AdminKubeconfig(),
		coreDNSKubeconfig: kubeconfig,
		kubectl:           filepath.Join(d.paths.BinDir, "kubectl"),
		namespace:         devenv.CoreDNSNamespace,
		objectName:        demoPod,
		podUID:            pod.UID,
		// COREDNS_POD_UID is left unset on purpose: the plugin then looks the UID up.
		coreDNSEnv: devenv.DownwardEnv(pod, demoNode, false),
	}, nil
}

// useKubeconfig uses the cluster of $KUBECONFIG as it is: the demo creates nothing there,
// and CoreDNS, running as that user and knowing no Pod, reports on the Namespace default.
// A KUBECONFIG naming several files is merged into one, since kubeapi reads a single file.
func (d *demo) useKubeconfig(kubeconfig string) (*cluster, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	restConfig, err := loader.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("KUBECONFIG=%s: %w", kubeconfig, err)
	}
	raw, err := loader.RawConfig()
	if err != nil {
		return nil, err
	}
	client, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return nil, err
	}
	d.say("cluster: %s (context %q)", restConfig.Host, raw.CurrentContext)
	if files := filepath.SplitList(kubeconfig); len(files) != 1 {
		merged, err := rules.Load() // relative file references come back absolute
		if err != nil {
			return nil, err
		}
		kubeconfig = filepath.Join(d.tmp, "merged.kubeconfig")
		if err := clientcmd.WriteToFile(*merged, kubeconfig); err != nil {
			return nil, err
		}
		d.say("KUBECONFIG names %d files: merged them into %s for CoreDNS", len(files), kubeconfig)
	}
	kubectl, err := exec.LookPath("kubectl") // the user's, matching their cluster
	if err != nil {
		kubectl = filepath.Join(d.paths.BinDir, "kubectl")
		if _, err := os.Stat(kubectl); err != nil {
			kubectl = ""
		}
	}
	// Without COREDNS_POD_NAME and COREDNS_NAMESPACE the plugin reports on the Namespace
	// default: nothing needs creating in someone else's cluster.
	return &cluster{admin: client, coreDNSKubeconfig: kubeconfig, kubectl: kubectl,
		namespace: "default", objectName: "default", coreDNSEnv: []string{"COREDNS_NODE_NAME=" + demoNode}}, nil
}

// kubectl runs kubectl as the cluster's admin and prints the command and its output.
func (d *demo) kubectl(ctx context.Context, args ...string) error {
	d.say("\n$ kubectl %s", strings.Join(args, " "))
	if d.cl.kubectl == "" {
		d.say("(skipped: no kubectl on PATH nor in the binaries directory)")
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.cl.kubectl, args...)
	if d.cl.adminKubeconfig != "" {
		cmd.Env = append(os.Environ(), "KUBECONFIG="+d.cl.adminKubeconfig)
	}
	out, err := cmd.CombinedOutput()
	d.print("    ", string(out))
	if err != nil {
		return fmt.Errorf("kubectl %s: %w", args[0], err)
	}
	return nil
}
