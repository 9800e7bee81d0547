package node

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	"github.com/coredns/k8s_event/internal/devenv/node"
	"github.com/miekg/dns"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestUninstallBackToKubeadmsCoreDNS runs the README's Uninstall, with kubeadm's image
// (CoreDNS without the plugin) for PREVIOUS_IMAGE, on the running cluster: its order keeps
// every CoreDNS able to read its Corefile, so no container exits, cluster DNS answers
// throughout, the Corefile is kubeadm's again byte for byte and what the install added is
// gone. It runs last (its file sorts last): it leaves CoreDNS without the plugin.
func TestUninstallBackToKubeadmsCoreDNS(t *testing.T) {
	setUp(t)
	readyPods(t)
	ctx := timeout(t, 2*time.Minute)
	// The Corefile as the install left it: the tests changed its reload interval.
	if err := writeCorefile(ctx, suite.install); err != nil {
		t.Fatal(err)
	}

	// Each command's rollout ends before the next command, as if an operator waited: the
	// order of the commands, not their speed, must keep CoreDNS running.
	probe := startDNSProbe(node.DNSServiceIP + ":53")
	err := suite.node.RunReadme(ctx, suite.paths, devenv.ReadmeUninstall, map[string]string{"PREVIOUS_IMAGE": suite.images.Stock.Name},
		func() error { return suite.node.WaitRollout(ctx, namespace, deployment) })
	answered, longestGap := probe.stop()
	if err != nil {
		t.Fatalf("%v\n%s", err, diagnose(timeout(t, time.Minute)))
	}
	t.Logf("cluster DNS during the uninstall: %d queries answered, longest time without an answer %v", answered, longestGap)
	if answered == 0 || longestGap > 3*time.Second {
		t.Errorf("cluster DNS stopped answering during the uninstall: %d answered, %v without an answer", answered, longestGap)
	}

	if got, err := corefile(ctx); err != nil || got != suite.kubeadm {
		t.Errorf("the Corefile after the uninstall (%v):\n%s\nwant kubeadm's, byte for byte:\n%s", err, got, suite.kubeadm)
	}
	pods, err := coreDNSPods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		c := p.Spec.Containers[0]
		if c.Image != suite.images.Stock.Name {
			t.Errorf("Pod %s runs %s, want %s", p.Name, c.Image, suite.images.Stock.Name)
		}
		for _, e := range c.Env {
			if strings.HasPrefix(e.Name, "COREDNS_") {
				t.Errorf("Pod %s still has %s in its environment", p.Name, e.Name)
			}
		}
		for _, s := range p.Status.ContainerStatuses {
			if s.RestartCount != 0 {
				t.Errorf("Pod %s: container %s restarted %d times, last %+v", p.Name, s.Name, s.RestartCount, s.LastTerminationState.Terminated)
			}
		}
	}
	rbac := suite.client.RbacV1()
	if _, err := rbac.Roles(namespace).Get(ctx, "coredns-k8s-event", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the install's Role after the uninstall: %v", err)
	}
	if _, err := rbac.RoleBindings(namespace).Get(ctx, "coredns-k8s-event", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the install's RoleBinding after the uninstall: %v", err)
	}
}

// dnsProbe asks addr for kubernetes.default every 200 ms from inside the node's network,
// and keeps the longest time between two answers.
type dnsProbe struct {
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	answered int
	gap      time.Duration
}

func startDNSProbe(addr string) *dnsProbe {
	ctx, cancel := context.WithCancel(context.Background())
	p := &dnsProbe{cancel: cancel}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		last := time.Now()
		for ctx.Err() == nil {
			r, err := query(addr, "kubernetes.default.svc.cluster.local.", dns.TypeA)
			now := time.Now()
			if err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0 {
				p.answered++
				last = now
			}
			p.gap = max(p.gap, now.Sub(last))
			time.Sleep(200 * time.Millisecond)
		}
	}()
	return p
}

// stop ends the probe and returns how many queries were answered and the longest time
// without an answer.
func (p *dnsProbe) stop() (int, time.Duration) {
	p.cancel()
	p.wg.Wait()
	return p.answered, p.gap
}
