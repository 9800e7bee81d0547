//go:build linux

package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Image is an image archive the Makefile built, and the name it is imported under.
type Image struct{ File, Name string }

// Node is a running single-node cluster. Its methods are not safe for concurrent use,
// except the clients it returns.
type Node struct {
	dir    string
	binDir string
	images Images
	tokens map[string]string
	procs  map[string]*proc
	before HostState
	admin  *rest.Config
	client kubernetes.Interface
}

// Images are the images the node has: no image can be pulled here, so every one a Pod
// runs is imported at start.
type Images struct {
	Pause  Image   // containerd's sandbox image
	Others []Image // CoreDNS's, a test client's, ...
}

// requiredPrograms are what the Makefile installs from Debian's packages.
var requiredPrograms = []string{"containerd", "ctr", "runc", "nsenter", "ip", "iptables", "sysctl", "/usr/lib/cni/bridge", "/usr/lib/cni/host-local"}

// nodeBinaries are what tools/build.sh node builds.
var nodeBinaries = []string{"etcd", "kube-apiserver", "kubectl", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubeadm"}

// stateDir is the node's directory: fixed, so that a run can clean up after one that was
// killed.
func stateDir() string { return filepath.Join(os.TempDir(), "k8s-event-node") }

// Start starts a node with the Kubernetes binaries in binDir and the images, and returns
// once the Node is Ready and kube-system's ServiceAccount and root CA exist. It fails,
// saying why, where a node cannot run: not Linux, not root, a program missing, or
// another node running. Whatever happens, call Stop.
func Start(ctx context.Context, binDir string, images Images) (_ *Node, err error) {
	if err := CanRun(binDir); err != nil {
		return nil, err
	}
	if err := CleanStale(); err != nil {
		return nil, err
	}
	n := &Node{dir: stateDir(), binDir: binDir, images: images, procs: map[string]*proc{}, before: ReadHostState()}
	defer func() {
		if err != nil {
			err = fmt.Errorf("starting the node: %w", err)
		}
	}()
	if err := os.MkdirAll(n.path("logs"), 0o755); err != nil {
		return n, err
	}
	saved, _ := json.Marshal(n.before)
	if err := os.WriteFile(n.path("host-state.json"), saved, 0o644); err != nil {
		return n, err
	}
	steps := []func() error{n.makeTokens, n.writeServiceAccountKey, n.writeConfig, makeCgroups, makeNSDir, createNetNS, createMountNS}
	for _, step := range steps {
		if err := step(); err != nil {
			return n, err
		}
	}
	if err := n.startContainerd(ctx); err != nil {
		return n, err
	}
	if err := n.startControlPlane(ctx); err != nil {
		return n, err
	}
	return n, n.startNode(ctx)
}

// CanRun tells why a node cannot run here, or nil.
func CanRun(binDir string) error {
	if os.Geteuid() != 0 {
		return errors.New("the node needs root (a network namespace, cgroups, mounts): run the node tests as root on Linux; `make unit e2e lint` runs the rest")
	}
	for _, p := range requiredPrograms {
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Errorf("%s is missing (make node-deps installs it): %w", p, err)
		}
	}
	for _, b := range nodeBinaries {
		if _, err := os.Stat(filepath.Join(binDir, b)); err != nil {
			return fmt.Errorf("%v (tools/build.sh node builds it)", err)
		}
	}
	return nil
}

// CleanStale removes what a node that was killed left on the host (its processes'
// children, namespaces, mounts, cgroups, directory), and fails if a node is running.
func CleanStale() error {
	for _, p := range nodeProcesses() {
		if name := strings.Fields(p)[1]; name == "kubelet" || name == "kube-apiserver" {
			return fmt.Errorf("a node is running already (%s): stop it first", p)
		}
	}
	killed := killNodeProcesses()
	data, err := os.ReadFile(filepath.Join(stateDir(), "host-state.json"))
	if os.IsNotExist(err) {
		return killed
	}
	var before HostState
	if err == nil {
		err = json.Unmarshal(data, &before)
	}
	if err != nil {
		return fmt.Errorf("cleaning up after a node that was killed: %w", err)
	}
	return errors.Join(killed, restoreHost(before), os.RemoveAll(stateDir()))
}

func (n *Node) startContainerd(ctx context.Context) error {
	if err := n.start("containerd", "containerd", "--config", n.path("containerd.toml")); err != nil {
		return err
	}
	if err := n.waitFor(ctx, "containerd's socket", 30*time.Second, func(context.Context) (bool, error) {
		_, err := os.Stat(n.containerdSocket())
		return err == nil, n.exited("containerd")
	}); err != nil {
		return err
	}
	for _, img := range append([]Image{n.images.Pause}, n.images.Others...) {
		out, err := Command(ctx, "ctr", "--address", n.containerdSocket(), "-n", "k8s.io", "images", "import", "--all-platforms", "--no-unpack=false", img.File).CombinedOutput()
		if err != nil {
			return fmt.Errorf("importing %s: %v: %s", img.File, err, out)
		}
		out, err = Command(ctx, "ctr", "--address", n.containerdSocket(), "-n", "k8s.io", "images", "check", "name=="+img.Name).CombinedOutput()
		if err != nil || !strings.Contains(string(out), img.Name) {
			return fmt.Errorf("image %s is not in containerd after importing %s: %v: %s", img.Name, img.File, err, out)
		}
	}
	return nil
}

// startControlPlane starts etcd and kube-apiserver and waits until the API is ready.
func (n *Node) startControlPlane(ctx context.Context) error {
	if err := n.start("etcd", "etcd", "--data-dir", n.path("etcd"),
		"--listen-client-urls", "http://127.0.0.1:2379", "--advertise-client-urls", "http://127.0.0.1:2379",
		"--listen-peer-urls", "http://127.0.0.1:2380", "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
		"--initial-cluster", "default=http://127.0.0.1:2380", "--unsafe-no-fsync"); err != nil {
		return err
	}
	n.admin = &rest.Config{
		Host: "https://" + NodeIP + ":" + APIServerPort, BearerToken: n.tokens["admin"],
		TLSClientConfig: rest.TLSClientConfig{CAFile: n.servingCert()}, Dial: Dial, QPS: 50, Burst: 100,
	}
	return n.StartAPIServer(ctx)
}

// StartAPIServer starts kube-apiserver, at start or after StopAPIServer, and returns once
// it is ready.
func (n *Node) StartAPIServer(ctx context.Context) error {
	err := n.start("kube-apiserver", "kube-apiserver",
		"--etcd-servers", "http://127.0.0.1:2379",
		"--bind-address", NodeIP, "--advertise-address", NodeIP, "--secure-port", APIServerPort,
		"--cert-dir", n.path("apiserver-certs"),
		"--service-cluster-ip-range", ServiceSubnet,
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", n.path("sa.pub"), "--service-account-signing-key-file", n.path("sa.key"),
		"--token-auth-file", n.path("tokens.csv"),
		"--authorization-mode", "Node,RBAC", "--enable-admission-plugins", "NodeRestriction",
		// Without it, kubectl logs and exec look the node's name up in DNS.
		"--kubelet-preferred-address-types", "InternalIP",
		"--profiling=false")
	if err != nil {
		return err
	}
	if err := n.waitFor(ctx, "kube-apiserver ready", time.Minute, func(ctx context.Context) (bool, error) {
		if err := n.exited("kube-apiserver"); err != nil {
			return false, err
		}
		if _, err := os.Stat(n.servingCert()); err != nil {
			return false, nil
		}
		if n.client == nil {
			c, err := kubernetes.NewForConfig(n.admin)
			if err != nil {
				return false, err
			}
			n.client = c
		}
		_, err := n.client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil, nil
	}); err != nil {
		return err
	}
	return os.WriteFile(n.path("admin.kubeconfig"), []byte(n.kubeconfig("admin")), 0o600)
}

// StopAPIServer stops kube-apiserver; everything else keeps running.
func (n *Node) StopAPIServer() error { return n.stop("kube-apiserver", 20*time.Second) }

// startNode starts the controllers, the scheduler, kubelet and kube-proxy, and waits for
// a Ready Node and what Pods of kube-system need: its default ServiceAccount and root CA.
func (n *Node) startNode(ctx context.Context) error {
	kubeconfig := func(name string) string { return "--kubeconfig=" + n.path(name+".kubeconfig") }
	starts := []error{
		n.start("kube-controller-manager", "kube-controller-manager", kubeconfig("kube-controller-manager"),
			"--root-ca-file", n.servingCert(), "--service-account-private-key-file", n.path("sa.key"),
			"--use-service-account-credentials", "--controllers=*,-nodeipam", "--leader-elect=false",
			"--bind-address=127.0.0.1", "--secure-port=10257", "--profiling=false"),
		n.start("kube-scheduler", "kube-scheduler", kubeconfig("kube-scheduler"), "--leader-elect=false",
			"--bind-address=127.0.0.1", "--secure-port=10259", "--profiling=false"),
		n.start("kubelet", "kubelet", "--config", n.path("kubelet.yaml"), kubeconfig("kubelet"),
			"--root-dir", n.path("kubelet"), "--node-ip", NodeIP, "--hostname-override", NodeName),
		n.start("kube-proxy", "kube-proxy", "--config", n.path("kube-proxy.yaml")),
	}
	if err := errors.Join(starts...); err != nil {
		return err
	}
	return n.waitFor(ctx, "a Ready node, and kube-system's ServiceAccount and root CA", 2*time.Minute, func(ctx context.Context) (bool, error) {
		if err := n.anyExited(); err != nil {
			return false, err
		}
		node, err := n.client.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		if err != nil || !nodeReady(node) {
			return false, nil
		}
		if _, err := n.client.CoreV1().ServiceAccounts("kube-system").Get(ctx, "default", metav1.GetOptions{}); err != nil {
			return false, ignoreNotFound(err)
		}
		_, err = n.client.CoreV1().ConfigMaps("kube-system").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err == nil, ignoreNotFound(err)
	})
}

func nodeReady(node *corev1.Node) bool {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// waitFor polls cond every 200 ms until it is true, fails, or timeout passes.
func (n *Node) waitFor(ctx context.Context, what string, timeout time.Duration, cond func(context.Context) (bool, error)) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		ok, err := cond(ctx)
		last = err
		return ok, err
	})
	if err != nil && last == nil {
		return fmt.Errorf("waiting for %s: %w", what, err)
	}
	if err != nil {
		return fmt.Errorf("waiting for %s: %w", what, last)
	}
	return nil
}

// Stop stops every program of the node and the containers it ran, and puts back what
// it changed on the host (see HostState). It returns what it could not undo.
func (n *Node) Stop() error {
	if n == nil {
		return nil
	}
	var errs []error
	for _, name := range []string{"kube-proxy", "kubelet", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd", "containerd"} {
		errs = append(errs, n.stop(name, 10*time.Second))
	}
	errs = append(errs, killNodeProcesses(), restoreHost(n.before), os.RemoveAll(n.dir))
	return errors.Join(errs...)
}

// killNodeProcesses kills what is left of a node's programs (containerd's shims, the
// containers' processes) and waits until they are gone.
func killNodeProcesses() error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		left := nodeProcesses()
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node processes still running: %v", left)
		}
		for _, p := range left {
			pid, _ := strconv.Atoi(strings.Fields(p)[0])
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// AdminConfig is a copy of the client configuration of the admin (group system:masters),
// dialing into the node's network.
func (n *Node) AdminConfig() *rest.Config { return rest.CopyConfig(n.admin) }

// AdminClient is a clientset authenticated as the admin.
func (n *Node) AdminClient() kubernetes.Interface { return n.client }

// AdminKubeconfig is the path of the admin's kubeconfig, usable inside the node's network
// namespace (Kubectl, Command).
func (n *Node) AdminKubeconfig() string { return n.path("admin.kubeconfig") }

// Kubectl runs kubectl as the admin inside the node's network, and returns its combined
// output.
func (n *Node) Kubectl(ctx context.Context, args ...string) (string, error) {
	return n.run(ctx, "kubectl", append([]string{"--kubeconfig=" + n.AdminKubeconfig()}, args...)...)
}

// Kubeadm runs kubeadm inside the node's network, and returns its combined output.
func (n *Node) Kubeadm(ctx context.Context, args ...string) (string, error) {
	return n.run(ctx, "kubeadm", args...)
}

func (n *Node) run(ctx context.Context, bin string, args ...string) (string, error) {
	out, err := Command(ctx, filepath.Join(n.binDir, bin), args...).CombinedOutput()
	if err != nil {
		err = fmt.Errorf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
	}
	return string(out), err
}

// LogTail is the end of a program's output, n lines, for a failure message.
func (n *Node) LogTail(name string, lines int) string {
	data, _ := os.ReadFile(n.logPath(name))
	l := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(l[max(0, len(l)-lines):], "\n")
}

// Dir is the node's directory: configuration, logs (logs/NAME.log), state.
func (n *Node) Dir() string { return n.dir }

func (n *Node) containerdSocket() string { return n.path("containerd.sock") }

func (n *Node) path(name string) string { return filepath.Join(n.dir, name) }
