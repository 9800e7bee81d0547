package node

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// installCoreDNS makes CoreDNS what a kubeadm cluster has, CoreDNS without the plugin,
// then installs the plugin on top with the README's commands and waits until both
// replicas serve. The tests' Corefile (suite.corefile) is the one the install leaves, but
// for the *reload* plugin's interval: 2 s instead of kubeadm's 30 s, so that a change
// takes seconds to be served.
func installCoreDNS(ctx context.Context) error {
	if err := suite.node.KubeadmCoreDNS(ctx, suite.images.Stock.Name); err != nil {
		return fmt.Errorf("kubeadm's CoreDNS: %w", err)
	}
	var err error
	if suite.kubeadm, err = corefile(ctx); err != nil {
		return err
	}
	if err := suite.node.Install(ctx, suite.paths, suite.images.CoreDNS.Name); err != nil {
		return fmt.Errorf("CoreDNS after the install: %w", err)
	}
	// corefile.sh add changed the ConfigMap; the kubelet and the reload plugin bring it
	// to the Pods within a minute.
	if suite.install, err = corefile(ctx); err != nil {
		return err
	}
	installed := suite.install
	if !strings.Contains(installed, "k8s_event") {
		return fmt.Errorf("the Corefile after the install has no k8s_event:\n%s", installed)
	}
	reload := regexp.MustCompile(`(?m)^(\s*)reload\s*$`)
	if !reload.MatchString(installed) {
		return fmt.Errorf("no reload line in the Corefile after the install:\n%s", installed)
	}
	suite.corefile = reload.ReplaceAllString(installed, "${1}reload 2s 1s")
	// Written, then served by new Pods: the old ones would take up to 45 s to reload it.
	if err := writeCorefile(ctx, suite.corefile+versionZone(0)); err != nil {
		return err
	}
	if _, err := suite.node.Kubectl(ctx, "-n", namespace, "rollout", "restart", "deployment/"+deployment); err != nil {
		return err
	}
	if err := suite.node.WaitRollout(ctx, namespace, deployment); err != nil {
		return err
	}
	return waitCorefile(ctx, "v0")
}

// corefile is the Corefile in CoreDNS's ConfigMap.
func corefile(ctx context.Context) (string, error) {
	cm, err := suite.client.CoreV1().ConfigMaps(namespace).Get(ctx, "coredns", metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	return cm.Data["Corefile"], nil
}

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
