package devenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// KubeadmConfig is the part of kubeadm's ClusterConfiguration its CoreDNS addon reads.
type KubeadmConfig struct {
	KubernetesVersion string // required: kubeadm would look the latest one up on the network
	DNSDomain         string // networking.dnsDomain; kubeadm's default is cluster.local
	ServiceSubnet     string // networking.serviceSubnet; the kube-dns Service gets its 10th address
	DNSImageRepo      string // dns.imageRepository, if set
	DNSImageTag       string // dns.imageTag, if set
	// AdvertiseAddress is the API server's address (InitConfiguration), if set: kubeadm
	// looks one up on the default route otherwise, and a node's network may have none.
	AdvertiseAddress string
	// PatchesDir is the InitConfiguration's patches.directory, if set: kubeadm's addon
	// step applies the patches of target corednsdeployment in it to the Deployment it
	// makes.
	PatchesDir string
}

// YAML is the configuration as kubeadm reads it (kubeadm.k8s.io/v1beta4).
func (c KubeadmConfig) YAML() string {
	var b strings.Builder
	if c.AdvertiseAddress != "" || c.PatchesDir != "" {
		b.WriteString("apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n")
		if c.AdvertiseAddress != "" {
			fmt.Fprintf(&b, "localAPIEndpoint:\n  advertiseAddress: %s\n", c.AdvertiseAddress)
		}
		if c.PatchesDir != "" {
			fmt.Fprintf(&b, "patches:\n  directory: %s\n", c.PatchesDir)
		}
		b.WriteString("---\n")
	}
	fmt.Fprintf(&b, "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: %s\n", c.KubernetesVersion)
	fmt.Fprintf(&b, "networking:\n  dnsDomain: %s\n  serviceSubnet: %s\n", c.DNSDomain, c.ServiceSubnet)
	if c.DNSImageRepo != "" || c.DNSImageTag != "" {
		b.WriteString("dns:\n")
		if c.DNSImageRepo != "" {
			fmt.Fprintf(&b, "  imageRepository: %s\n", c.DNSImageRepo)
		}
		if c.DNSImageTag != "" {
			fmt.Fprintf(&b, "  imageTag: %s\n", c.DNSImageTag)
		}
	}
	return b.String()
}

// Kubeadm runs BinDir's kubeadm with args against the cluster of kubeconfig and returns
// its combined output. It fails saying how to build kubeadm when it is missing.
func (p Paths) Kubeadm(ctx context.Context, kubeconfig string, args ...string) (string, error) {
	bin := filepath.Join(p.BinDir, "kubeadm")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("kubeadm is not built: %v (tools/build.sh node builds it into %s)", err, p.BinDir)
	}
	cmd := exec.CommandContext(ctx, bin, append(args, "--kubeconfig", kubeconfig)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		err = fmt.Errorf("kubeadm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), err
}

// KubeadmCoreDNS makes CoreDNS as kubeadm makes it, with kubeadm's own addon step
// (`kubeadm init phase addon coredns`): the coredns ConfigMap, Deployment and
// ServiceAccount, the system:coredns ClusterRole and binding, and the kube-dns Service.
// On a cluster that has CoreDNS already, it is the step `kubeadm upgrade apply` runs in
// its addon/coredns phase. It writes cfg to dir and returns kubeadm's output.
func (p Paths) KubeadmCoreDNS(ctx context.Context, kubeconfig, dir string, cfg KubeadmConfig) (string, error) {
	file := filepath.Join(dir, "kubeadm-config.yaml")
	if err := os.WriteFile(file, []byte(cfg.YAML()), 0o644); err != nil {
		return "", err
	}
	return p.Kubeadm(ctx, kubeconfig, "init", "phase", "addon", "coredns", "--config", file)
}

// KubernetesVersion is the version of k8s.io/kubernetes that tools/kube/go.mod pins, the
// version of the kube-apiserver, kubectl and kubeadm the harness runs, such as "v1.37.2".
func (p Paths) KubernetesVersion() (string, error) {
	data, err := os.ReadFile(filepath.Join(p.Root, "tools", "kube", "go.mod"))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "require" {
			f = f[1:]
		}
		if len(f) >= 2 && f[0] == "k8s.io/kubernetes" {
			return f[1], nil
		}
	}
	return "", fmt.Errorf("tools/kube/go.mod does not require k8s.io/kubernetes")
}
