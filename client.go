package k8s_event

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

var errNoClient = errors.New("no connection to the Kubernetes API yet (kubeapi has not started)")

// clientSlot holds the Kubernetes client the plugin writes through: kubeapi's, of the
// configuration in effect. A reload replaces it; until the first is set, writes wait.
type clientSlot struct {
	current atomic.Pointer[apiClient]
	set     chan struct{} // closed when the first client is set
}

type apiClient struct{ kubernetes.Interface }

func newClientSlot() *clientSlot { return &clientSlot{set: make(chan struct{})} }

// store makes client the one to write through.
func (c *clientSlot) store(client kubernetes.Interface) {
	if c.current.Swap(&apiClient{client}) == nil {
		close(c.set)
	}
}

// load returns the client to write through, or nil if none was set yet.
func (c *clientSlot) load() kubernetes.Interface {
	if cl := c.current.Load(); cl != nil {
		return cl.Interface
	}
	return nil
}

// wait returns the client to write through, waiting for the first one until deadline on
// clk, or until ctx ends.
func (c *clientSlot) wait(ctx context.Context, clk clock.Clock, deadline time.Time) (kubernetes.Interface, error) {
	if cl := c.current.Load(); cl != nil {
		return cl.Interface, nil
	}
	select {
	case <-c.set:
		return c.current.Load().Interface, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-clk.After(deadline.Sub(clk.Now())):
		return nil, errNoClient
	}
}
