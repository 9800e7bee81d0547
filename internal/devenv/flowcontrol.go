package devenv

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"sync"

	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// APIServerMetrics reads kube-apiserver's own metrics (/metrics) as the admin, such as
// API Priority and Fairness's apiserver_flowcontrol_dispatched_requests_total by
// flow_schema and priority_level.
func (cp *ControlPlane) APIServerMetrics(ctx context.Context) (Metrics, error) {
	data, err := cp.client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, err
	}
	return parseMetrics(bufio.NewScanner(bytes.NewReader(data)))
}

// Classification is what API Priority and Fairness answered about one request, in its
// response headers: the UIDs of the FlowSchema that matched it and of its priority level
// (X-Kubernetes-PF-FlowSchema-UID, X-Kubernetes-PF-PriorityLevel-UID). Both are empty
// for a response without them, such as one that never reached the API server's filters.
type Classification struct {
	FlowSchema, PriorityLevel string
}

// ClassificationRecorder counts a client's responses by their Classification. Wrap
// installs it in a rest.Config (its Wrap field) or around any http.RoundTripper.
type ClassificationRecorder struct {
	mu   sync.Mutex
	seen map[Classification]int
}

// Wrap returns rt, counting the classification of each response it returns.
func (r *ClassificationRecorder) Wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		if err == nil {
			r.add(Classification{
				FlowSchema:    resp.Header.Get(flowcontrolv1.ResponseHeaderMatchedFlowSchemaUID),
				PriorityLevel: resp.Header.Get(flowcontrolv1.ResponseHeaderMatchedPriorityLevelConfigurationUID),
			})
		}
		return resp, err
	})
}

func (r *ClassificationRecorder) add(c Classification) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[Classification]int{}
	}
	r.seen[c]++
}

// Seen returns a copy of the counts so far: responses by classification.
func (r *ClassificationRecorder) Seen() map[Classification]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := make(map[Classification]int, len(r.seen))
	for c, n := range r.seen {
		seen[c] = n
	}
	return seen
}

// roundTripFunc is a function as an http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// UserConfig is a client configuration for a user of the name and groups given,
// authenticated by a client certificate the API server trusts, through the gate: such as
// a node (system:node:NAME in group system:nodes), which API Priority and Fairness
// classifies apart from ServiceAccounts. It has what RBAC binds to that user or its
// groups, and no client-side rate limit.
func (cp *ControlPlane) UserConfig(name string, groups ...string) (*rest.Config, error) {
	u, err := cp.env.AddUser(envtest.User{Name: name, Groups: groups}, nil)
	if err != nil {
		return nil, err
	}
	cfg := rest.CopyConfig(u.Config())
	cfg.Host = cp.admin.Host
	cfg.QPS, cfg.Burst = -1, 0
	return cfg, nil
}
