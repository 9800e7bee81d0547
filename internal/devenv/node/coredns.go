//go:build linux

package node

import (
	"context"
	"fmt"
	"github.com/coredns/k8s_event/internal/devenv"
	"os"
	"path/filepath"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// KubeadmCoreDNS makes CoreDNS what kubeadm makes it, with kubeadm itself (its addon
// phase), but for the image: image, which must be REPOSITORY/coredns:TAG as kubeadm
// names its own. It returns once the Deployment is rolled out.
func (n *Node) KubeadmCoreDNS(ctx context.Context, image string) error {
	if _, err := n.KubeadmAddon(ctx, image, nil); err != nil {
		return err
	}
	return n.WaitRollout(ctx, "kube-system", "coredns")
}

// KubeadmAddon runs kubeadm's CoreDNS addon step (`kubeadm init phase addon coredns`,
// which `kubeadm upgrade apply` runs in its addon/coredns phase) with image as kubeadm's
// CoreDNS image, as KubeadmCoreDNS does, and with patches, if any, in the
// InitConfiguration's patches directory: file name (corednsdeployment+strategic.yaml, say)
// to content. It returns kubeadm's output, and does not wait for a rollout.
func (n *Node) KubeadmAddon(ctx context.Context, image string, patches map[string]string) (string, error) {
	repo, tag, ok := strings.Cut(image, "/coredns:")
	if !ok {
		return "", fmt.Errorf("the image %q is not REPOSITORY/coredns:TAG, which kubeadm's dns.imageRepository and imageTag need", image)
	}
	version, err := n.client.Discovery().ServerVersion()
	if err != nil {
		return "", err
	}
	cfg := devenv.KubeadmConfig{KubernetesVersion: version.GitVersion, DNSDomain: "cluster.local", ServiceSubnet: ServiceSubnet,
		DNSImageRepo: repo, DNSImageTag: tag, AdvertiseAddress: NodeIP}
	if len(patches) > 0 {
		cfg.PatchesDir = n.path("kubeadm-patches")
		if err := os.RemoveAll(cfg.PatchesDir); err != nil {
			return "", err
		}
		if err := os.Mkdir(cfg.PatchesDir, 0o755); err != nil {
			return "", err
		}
		for name, content := range patches {
			if err := os.WriteFile(filepath.Join(cfg.PatchesDir, name), []byte(content), 0o644); err != nil {
				return "", err
			}
		}
	}
	if err := os.WriteFile(n.path("kubeadm.yaml"), []byte(cfg.YAML()), 0o644); err != nil {
		return "", err
	}
	return n.Kubeadm(ctx, "init", "phase", "addon", "coredns", "--config", n.path("kubeadm.yaml"), "--kubeconfig", n.AdminKubeconfig())
}

// WaitRollout waits until a Deployment's rollout is complete: every replica updated,
// Ready and available, and no other Pod of it left.
func (n *Node) WaitRollout(ctx context.Context, namespace, name string) error {
	var state string
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := n.client.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			state = err.Error()
			return false, nil
		}
		pods, err := n.Pods(ctx, d)
		if err != nil {
			state = err.Error()
			return false, nil
		}
		s := d.Status
		state = fmt.Sprintf("generation %d observed %d, updated %d, ready %d, available %d, %d Pods", d.Generation, s.ObservedGeneration,
			s.UpdatedReplicas, s.ReadyReplicas, s.AvailableReplicas, len(pods))
		want := *d.Spec.Replicas
		done := s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want && s.ReadyReplicas == want &&
			s.AvailableReplicas == want && s.Replicas == want && len(pods) == int(want)
		for _, p := range pods {
			done = done && PodReady(&p)
		}
		return done, nil
	})
	if err != nil {
		return fmt.Errorf("deployment %s/%s not rolled out (%s): %w", namespace, name, state, err)
	}
	return nil
}

// Pods are the Pods of Deployment d that are not terminating.
func (n *Node) Pods(ctx context.Context, d *appsv1.Deployment) ([]corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, err
	}
	list, err := n.client.CoreV1().Pods(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, err
	}
	var pods []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			pods = append(pods, p)
		}
	}
	return pods, nil
}

// PodReady tells whether p's Ready condition is true.
func PodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// ContainerLog is what the container named name of pod printed since it last started, as
// the kubelet keeps it (the node's pod-logs directory).
func (n *Node) ContainerLog(pod *corev1.Pod, name string) (string, error) {
	dir := filepath.Join(n.path("pod-logs"), fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID), name)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	last, lastN := "", -1
	for _, e := range entries {
		var i int
		if _, err := fmt.Sscanf(e.Name(), "%d.log", &i); err == nil && i > lastN {
			last, lastN = e.Name(), i
		}
	}
	if last == "" {
		return "", fmt.Errorf("no log of %s in %s", name, dir)
	}
	data, err := os.ReadFile(filepath.Join(dir, last))
	return string(data), err
}
