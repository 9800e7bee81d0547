package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
)

// corefile is a server block on loopback in which every query fails: forward to a port
// where nothing listens, and errors logs each failure. The same kubeapi in every
// variant; k8s_event only when stanza is not empty. startCoreDNS fills in PORT and
// PPROF.
func corefile(deadPort int, kubeconfig, stanza string) string {
	return fmt.Sprintf(`.:PORT {
    bind 127.0.0.1
    errors
    forward . 127.0.0.1:%d
    kubeapi {
        kubeconfig %s
    }
    %s
    PPROF
}
`, deadPort, kubeconfig, stanza)
}

// coreDNS is a running ./coredns, the lines it prints from k8s_event or client-go's event
// pipeline counted.
type coreDNS struct {
	*devenv.CoreDNS
	name  string
	port  int
	pprof int // port of the pprof plugin
	out   pluginLines
}

func startCoreDNS(o options, name, contents string, env []string) (*coreDNS, error) {
	port, err1 := devenv.FreePort()
	pprofPort, err2 := devenv.FreePort()
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("free ports: %v, %v", err1, err2)
	}
	contents = strings.Replace(contents, ".:PORT {", fmt.Sprintf(".:%d {", port), 1)
	contents = strings.Replace(contents, "PPROF", fmt.Sprintf("pprof 127.0.0.1:%d", pprofPort), 1)
	dir := filepath.Join(o.work, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	c := &coreDNS{name: name, port: port, pprof: pprofPort}
	c.CoreDNS, err1 = devenv.StartCoreDNS(devenv.CoreDNSOptions{
		Binary: o.coredns, Corefile: contents, Dir: dir, Env: env,
		Echo: c.out.count, KeepLines: 20, // the errors plugin prints a line per query
	})
	if err1 != nil {
		return nil, err1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		c.Stop()
		return nil, fmt.Errorf("%s: %v; its log:\n%s", name, err, c.Tail(20))
	}
	return c, nil
}

func (c *coreDNS) addr() string { return devenv.Loopback(c.port) }

// pluginLines counts the lines that come from k8s_event or client-go's event pipeline,
// not from the errors plugin, and keeps two of them.
type pluginLines struct {
	mu      sync.Mutex
	n       int
	samples []string
}

func (p *pluginLines) count(line string) {
	if !strings.Contains(line, "k8s_event") && !strings.Contains(line, "dropped event") {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	if len(p.samples) < 2 {
		p.samples = append(p.samples, line)
	}
}

// take returns the count since the last take, with up to two of the lines. Lines still
// in the pipe are counted next time.
func (p *pluginLines) take() (int, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, samples := p.n, p.samples
	p.n, p.samples = 0, nil
	return n, samples
}

// profile fetches a CPU profile of the server over most of a run of length d into
// work/label.pprof, and sets *path to it. The channel closes when done.
func (c *coreDNS) profile(o options, d time.Duration, label string, path *string) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		url := fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=%d", c.pprof, max(1, int((d-time.Second)/time.Second)))
		resp, err := http.Get(url)
		if err == nil {
			defer resp.Body.Close()
			var data []byte
			if data, err = io.ReadAll(resp.Body); err == nil {
				p := filepath.Join(o.work, label+".pprof")
				if err = os.WriteFile(p, data, 0o644); err == nil {
					*path = p
				}
			}
		}
		if err != nil {
			progress("profile of %s: %v", label, err)
		}
	}()
	return done
}
