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
	"k8s.io/apimachinery/pkg/fields"
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
	eventNamespace string
	objectKind     string
	objectName     string
	podUID         types.UID // empty without a Pod

	// coreDNSEnv is what CoreDNS learns about its Pod, as the Downward API would tell it.
	coreDNSEnv []string
}

// eventSelector selects the events the demo's CoreDNS writes.
func (cl *cluster) eventSelector() string {
	return fields.Set{"involvedObject.kind": cl.objectKind, "involvedObject.name": cl.objectName, "source": "CoreDNS"}.String()
}

// startLocal starts etcd and kube-apiserver on loopback and prepares kube-system the way a
// cluster has it for CoreDNS: the RBAC of deploy/rbac.yaml, a Pod for CoreDNS to report on
// and a token of its ServiceAccount. Stopping both and removing their directory is handed
// to atExit.
func startLocal(ctx context.Context, env settings, con *console, atExit func(what string, f func() error)) (*cluster, error) {
	con.Say("starting etcd and kube-apiserver")
	cp, err := devenv.StartControlPlane(env.paths.BinDir)
	if err != nil {
		return nil, err
	}
	con.Say("kube-apiserver is ready at %s (logs in %s)", cp.Host(), cp.LogPath())
	atExit("stopping the control plane (etcd, kube-apiserver) and removing its directory", cp.Stop)
	con.Say("applying %s and creating Pod %s/%s (it stays Pending: there is no node)",
		filepath.Join("deploy", "rbac.yaml"), devenv.CoreDNSNamespace, demoPod)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := cp.Apply(ctx, env.paths.Deploy("rbac.yaml")); err != nil {
		return nil, err
	}
	pod, err := cp.CoreDNSPod(ctx, demoPod)
	if err != nil {
		return nil, err
	}
	con.Say("Pod %s/%s has UID %s", pod.Namespace, pod.Name, pod.UID)
	kubeconfig, err := cp.ServiceAccountKubeconfig(ctx, devenv.CoreDNSNamespace, "coredns")
	if err != nil {
		return nil, err
	}
	return &cluster{
		admin:             cp.AdminClient(),
		adminKubeconfig:   cp.AdminKubeconfig(),
		coreDNSKubeconfig: kubeconfig,
		kubectl:           filepath.Join(env.paths.BinDir, "kubectl"),
		eventNamespace:    devenv.CoreDNSNamespace,
		objectKind:        "Pod",
		objectName:        demoPod,
		podUID:            pod.UID,
		coreDNSEnv: []string{
			"COREDNS_POD_NAME=" + demoPod,
			"COREDNS_NAMESPACE=" + devenv.CoreDNSNamespace,
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
	kubectl, err := exec.LookPath("kubectl") // the user's, matching their cluster
	if err != nil {
		if kubectl = filepath.Join(env.paths.BinDir, "kubectl"); !fileExists(kubectl) {
			kubectl = ""
		}
	}
	return &cluster{
		admin:             client,
		coreDNSKubeconfig: coreDNSKubeconfig,
		kubectl:           kubectl,
		eventNamespace:    "default",
		objectKind:        "Namespace",
		objectName:        "default",
		// Without COREDNS_POD_NAME and COREDNS_NAMESPACE the plugin reports on the
		// Namespace default: nothing needs creating in someone else's cluster.
		coreDNSEnv: []string{"COREDNS_NODE_NAME=" + demoNode},
	}, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// run runs kubectl as the cluster's admin and prints the command and its output.
func (cl *cluster) run(ctx context.Context, con *console, args ...string) error {
	con.Blank()
	con.Lines("    ", "$ kubectl "+strings.Join(args, " "))
	if cl.kubectl == "" {
		con.Say("(skipped: no kubectl on PATH nor in the binaries directory)")
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, cl.kubectl, args...)
	cmd.Env = os.Environ()
	if cl.adminKubeconfig != "" {
		cmd.Env = append(cmd.Env, "KUBECONFIG="+cl.adminKubeconfig)
	}
	out, err := cmd.CombinedOutput()
	con.Lines("    ", string(out))
	if err != nil {
		return fmt.Errorf("kubectl %s: %w", args[0], err)
	}
	return nil
}
