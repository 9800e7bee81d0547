package node

import (
	"context"
	"fmt"
	"regexp"
	"strings"

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
