package node

import (
	"io"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// TestInstallKeepsTheCoreDNSVersion: the README's install replaces kubeadm's CoreDNS
// image with the plugin's image for the same CoreDNS version (deploy/image.sh read it from
// kubeadm's image's tag): every replica runs the plugin's image, and the CoreDNS in it
// prints, when it starts, the version of kubeadm's image's tag.
func TestInstallKeepsTheCoreDNSVersion(t *testing.T) {
	setUp(t)
	stock := suite.images.Stock.Name
	want := "CoreDNS-" + strings.TrimPrefix(stock[strings.LastIndexByte(stock, ':')+1:], "v")
	for _, p := range readyPods(t) {
		if got := p.Spec.Containers[0].Image; got != suite.images.CoreDNS.Name {
			t.Errorf("Pod %s runs %s, want the plugin's image %s", p.Name, got, suite.images.CoreDNS.Name)
			continue
		}
		if version := startVersion(t, &p); version != want {
			t.Errorf("Pod %s (%s) started %q; want %s, the CoreDNS version of kubeadm's image %s", p.Name, suite.images.CoreDNS.Name, version, want, stock)
		}
	}
}

// startVersion is the line CoreDNS prints first when it starts, CoreDNS-VERSION, from
// pod's log.
func startVersion(t *testing.T, pod *corev1.Pod) string {
	t.Helper()
	logs, err := suite.client.CoreV1().Pods(namespace).GetLogs(pod.Name, &corev1.PodLogOptions{Container: "coredns"}).Stream(timeout(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	data, err := io.ReadAll(logs)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "CoreDNS-") {
			return strings.TrimSpace(l)
		}
	}
	t.Fatalf("Pod %s's log has no CoreDNS-VERSION line:\n%s", pod.Name, data)
	return ""
}
