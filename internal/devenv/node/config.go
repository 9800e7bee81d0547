//go:build linux

package node

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// NodeName is the Node's name, kubelet's --hostname-override.
const NodeName = "k8s-event-node"

// files writes the configuration of containerd, CNI, kubelet and kube-proxy into the
// node's directory, and the resolv.conf kubelet gives Pods with dnsPolicy Default.
func (n *Node) writeConfig() error {
	files := map[string]string{
		"containerd.toml":                    fmt.Sprintf(containerdConfig, n.path("containerd"), n.path("containerd-state"), n.containerdSocket(), n.path("containerd-opt"), n.images.Pause.Name, n.path("cni"), n.path("runc")),
		"cni/10-bridge.conflist":             fmt.Sprintf(cniConfig, Bridge, PodSubnet, NodeIP, n.path("cni-ipam")),
		"kubelet.yaml":                       fmt.Sprintf(kubeletConfig, NodeIP, CgroupRoot, DNSServiceIP, n.path("resolv.conf"), n.containerdSocket(), n.path("pod-logs")),
		"kube-proxy.yaml":                    fmt.Sprintf(kubeProxyConfig, n.path("kube-proxy.kubeconfig"), NodeIP, PodSubnet, NodeName),
		"resolv.conf":                        "nameserver " + NodeIP + "\n",
		"kube-scheduler.kubeconfig":          n.kubeconfig("system:kube-scheduler"),
		"kube-controller-manager.kubeconfig": n.kubeconfig("system:kube-controller-manager"),
		"kubelet.kubeconfig":                 n.kubeconfig("system:node:" + NodeName),
		"kube-proxy.kubeconfig":              n.kubeconfig("system:kube-proxy"),
		"admin.kubeconfig":                   n.kubeconfig("admin"),
		"tokens.csv":                         n.tokenFile(),
	}
	for name, text := range files {
		p := n.path(name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// containerdConfig: every path of its own, so it never meets another containerd on the
// machine; the sandbox image is the one the Makefile built (none can be pulled); negative
// oom_score_adj cannot be set here (no CAP_SYS_RESOURCE), and kubelet 1.37 falls back to
// its own cgroupfs driver with containerd 1.6.
const containerdConfig = `version = 2
root = %q
state = %q
[grpc]
  address = %q
[plugins."io.containerd.internal.v1.opt"]
  path = %q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %q
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = %q
`

// cniConfig: Pods on the node's bridge, their default route through the node (there is
// nothing beyond it), hairpin so a Pod reaches itself through a Service; no masquerade.
const cniConfig = `{
  "cniVersion": "1.0.0",
  "name": "k8s-event-node",
  "plugins": [{
    "type": "bridge",
    "bridge": %q,
    "isGateway": false,
    "ipMasq": false,
    "hairpinMode": true,
    "ipam": {
      "type": "host-local",
      "ranges": [[{"subnet": %q, "rangeStart": "10.200.0.10", "rangeEnd": "10.200.0.250", "gateway": %q}]],
      "routes": [{"dst": "0.0.0.0/0", "gw": "10.200.0.1"}],
      "dataDir": %q
    }
  }]
}
`

// kubeletConfig: cgroup v1 and swap allowed; no image garbage collection (no image here
// can be pulled again); ConfigMap changes reach Pods within seconds; anonymous access to
// its API, which only the node's namespace can reach.
const kubeletConfig = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %s
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
cgroupDriver: cgroupfs
cgroupRoot: /%s
failCgroupV1: false
failSwapOn: false
clusterDomain: cluster.local
clusterDNS: [%s]
resolvConf: %s
containerRuntimeEndpoint: unix://%s
podLogsDir: %s
syncFrequency: 5s
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {"memory.available": "100Mi", "nodefs.available": "1%%", "imagefs.available": "1%%"}
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
serializeImagePulls: false
`

// kubeProxyConfig: iptables on the node's address only; every Service connection
// masqueraded, so that a reply from a Pod on the same bridge comes back through the node;
// conntrack's global limits left alone.
const kubeProxyConfig = `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: %s}
mode: iptables
bindAddress: %s
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
clusterCIDR: %s
hostnameOverride: %s
nodePortAddresses: ["10.200.0.1/32"]
iptables: {localhostNodePorts: false, masqueradeAll: true}
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s, udpTimeout: 0s, udpStreamTimeout: 0s}
`

// kubeconfig is a kubeconfig for user, with the token tokenFile gives it.
func (n *Node) kubeconfig(user string) string {
	return strings.TrimLeft(fmt.Sprintf(`
apiVersion: v1
kind: Config
clusters:
- name: node
  cluster: {server: "https://%s:%s", certificate-authority: %q}
users:
- name: %s
  user: {token: %q}
contexts:
- name: node
  context: {cluster: node, user: %s}
current-context: node
`, NodeIP, APIServerPort, n.servingCert(), user, n.tokens[user], user), "\n")
}
