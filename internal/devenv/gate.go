package devenv

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
)

// gate stands in front of kube-apiserver as a load balancer with a readiness check
// does: it listens on a loopback port of its own, and forwards what it accepts there,
// only while the API server is ready. Clients never reach a starting kube-apiserver,
// which answers 403 to everything until its RBAC caches are filled (client-go drops an
// event on such an answer instead of retrying it); while it is down or starting, they
// find the port closed, as they would the API server's.
type gate struct {
	addr   string // where clients connect
	target string // the API server's host:port
	mu     sync.Mutex
	l      net.Listener // nil while closed
}

func newGate(target string) (*gate, error) {
	port, err := FreePort()
	return &gate{addr: Loopback(port), target: target}, err
}

// openWhenReady waits until the API server answers /readyz, through direct, and opens
// the gate. It waits until ctx ends, or startLimit without a deadline.
func (g *gate) openWhenReady(ctx context.Context, direct *rest.Config) error {
	c, err := rest.HTTPClientFor(direct)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, startLimit(ctx))
	defer cancel()
	for {
		var resp *http.Response
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(direct.Host, "/")+"/readyz", nil)
		if err == nil {
			resp, err = c.Do(req)
		}
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return g.open()
			}
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			return fmt.Errorf("kube-apiserver not ready (/readyz): %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (g *gate) open() (err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.l, err = net.Listen("tcp", g.addr); err != nil {
		return err
	}
	go func(l net.Listener) {
		for {
			c, err := l.Accept()
			if err != nil {
				return // closed
			}
			go g.forward(c)
		}
	}(g.l)
	return nil
}

func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.l != nil {
		g.l.Close()
		g.l = nil
	}
}

// forward copies both ways between c and a new connection to the API server, until
// either side closes.
func (g *gate) forward(c net.Conn) {
	defer c.Close()
	up, err := net.Dial("tcp", g.target)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
}
