package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// The clients beside the fleet in the apf part: kube-controller-manager controllers, each
// with a token of its own kube-system ServiceAccount, as kubeadm runs them
// (--use-service-account-credentials), and a node patching its status, a client of
// another flow (FlowSchema system-nodes). Their requests' latency is what the fleet's
// burst may cost the cluster.

// apfControllers are the kube-system ServiceAccounts the controller clients run as.
var apfControllers = []string{"deployment-controller", "endpointslice-controller", "generic-garbage-collector"}

// apfNode is the node whose status the node client patches.
const apfNode = "bench-node"

// apfTargetPod is the Pod the controllers read and patch; apfTargetLabel selects it for
// their list.
const (
	apfTargetPod   = "bench-target"
	apfTargetLabel = "bench=target"
)

// apfClientsRBAC is what the clients may do: the controllers get, list and patch Pods in
// kube-system; the node gets and patches its own status.
const apfClientsRBAC = `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: bench-controllers, namespace: kube-system}
rules:
- {apiGroups: [""], resources: [pods], verbs: [get, list, patch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: bench-controllers, namespace: kube-system}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: bench-controllers}
subjects:
- {kind: ServiceAccount, name: deployment-controller, namespace: kube-system}
- {kind: ServiceAccount, name: endpointslice-controller, namespace: kube-system}
- {kind: ServiceAccount, name: generic-garbage-collector, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: bench-node}
rules:
- {apiGroups: [""], resources: [nodes], verbs: [get]}
- {apiGroups: [""], resources: [nodes/status], verbs: [patch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: bench-node}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: bench-node}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "system:node:bench-node"}
`

// apfSample is one request of a client: when it was sent, how long its answer took,
// and whether it failed.
type apfSample struct {
	at   time.Time
	took time.Duration
	err  bool
}

// apfClient is one client beside the fleet and what it saw.
type apfClient struct {
	name, kind string // kind: controller or node
	rate       int    // requests per second
	reqs       []func(context.Context) error
	rec        devenv.ClassificationRecorder
	mu         sync.Mutex
	samples    []apfSample
}

// run sends requests at rate per second, cycling through reqs, until ctx ends; each
// request's answer may take as long as the API server needs (up to 60 s).
func (c *apfClient) run(ctx context.Context, rate int, reqs []func(context.Context) error) {
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		rctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		at := time.Now()
		err := reqs[i%len(reqs)](rctx)
		took := time.Since(at)
		cancel()
		c.mu.Lock()
		c.samples = append(c.samples, apfSample{at: at, took: took, err: err != nil})
		c.mu.Unlock()
	}
}

// between returns the latencies of the successful requests sent in [from, to), and how
// many failed.
func (c *apfClient) between(from, to time.Time) (took []time.Duration, failed int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.samples {
		if s.at.Before(from) || !s.at.Before(to) {
			continue
		}
		if s.err {
			failed++
		} else {
			took = append(took, s.took)
		}
	}
	return took, failed
}

// clientset builds a clientset for cfg that records each response's classification in
// c, without a client-side rate limit: the latency measured is the API server's.
func (c *apfClient) clientset(cfg *rest.Config) (*kubernetes.Clientset, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = -1, 0
	cfg.Wrap(c.rec.Wrap)
	return kubernetes.NewForConfig(cfg)
}

// controllerRequests are a controller's steady mix: get, list (by label) and patch a Pod.
func controllerRequests(cs *kubernetes.Clientset, name string) []func(context.Context) error {
	pods := cs.CoreV1().Pods(devenv.CoreDNSNamespace)
	n := 0
	return []func(context.Context) error{
		func(ctx context.Context) error {
			_, err := pods.Get(ctx, apfTargetPod, metav1.GetOptions{})
			return err
		},
		func(ctx context.Context) error {
			_, err := pods.List(ctx, metav1.ListOptions{LabelSelector: apfTargetLabel})
			return err
		},
		func(ctx context.Context) error {
			n++
			patch := fmt.Sprintf(`{"metadata":{"annotations":{"bench/%s":"%d"}}}`, name, n)
			_, err := pods.Patch(ctx, apfTargetPod, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
			return err
		},
	}
}

// nodeRequests are a node's: the heartbeat of its Ready condition, a patch of its status.
func nodeRequests(cs *kubernetes.Clientset) []func(context.Context) error {
	return []func(context.Context) error{func(ctx context.Context) error {
		patch := fmt.Sprintf(`{"status":{"conditions":[{"type":"Ready","status":"True","reason":"Bench","lastHeartbeatTime":%q}]}}`,
			time.Now().UTC().Format(time.RFC3339))
		_, err := cs.CoreV1().Nodes().PatchStatus(ctx, apfNode, []byte(patch))
		return err
	}}
}
