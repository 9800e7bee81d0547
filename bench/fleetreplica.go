package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
)

// pluginRate is k8s_event's `rate QPS BURST` for every replica of a fleet, written out
// in the Corefile, so that the write bound the rows check is the one CoreDNS was given.
type pluginRate struct {
	qpsText string // as written: a decimal or a fraction
	qps     float64
	burst   int
}

// parsePluginRate reads QPS,BURST, QPS a decimal or a fraction such as 1/300.
func parsePluginRate(s string) (pluginRate, error) {
	qpsText, burstText, ok := strings.Cut(s, ",")
	r := pluginRate{qpsText: strings.TrimSpace(qpsText)}
	num, den, isFraction := strings.Cut(r.qpsText, "/")
	n, err1 := strconv.ParseFloat(num, 64)
	d, err2 := 1.0, error(nil)
	if isFraction {
		d, err2 = strconv.ParseFloat(den, 64)
	}
	burst, err3 := strconv.Atoi(strings.TrimSpace(burstText))
	if !ok || err1 != nil || err2 != nil || err3 != nil || n <= 0 || d <= 0 || burst <= 0 {
		return r, fmt.Errorf("%q: want QPS,BURST such as 1/300,25", s)
	}
	r.qps, r.burst = n/d, burst
	return r, nil
}

func (r pluginRate) String() string { return fmt.Sprintf("rate %s %d", r.qpsText, r.burst) }

// fleetCorefile is a replica's: every query fails (forward to a loopback port where
// nothing listens) and errors logs it; kubeapi with the ServiceAccount's kubeconfig;
// k8s_event at the fleet's rate; metrics for the counters.
func fleetCorefile(port, deadPort, metricsPort int, kubeconfig string, rate pluginRate) string {
	return fmt.Sprintf(`.:%d {
    bind 127.0.0.1
    errors
    forward . 127.0.0.1:%d
    kubeapi {
        kubeconfig %s
    }
    k8s_event {
        %s
    }
    prometheus 127.0.0.1:%d
}
`, port, deadPort, kubeconfig, rate, metricsPort)
}

// replica is one CoreDNS of a fleet: its own Pod object and ports, the ServiceAccount
// all replicas share, as a Deployment's do.
type replica struct {
	*devenv.CoreDNS
	pod     string
	port    int
	metrics int
	started time.Time
	rate    pluginRate
	buckets bucketsSeen
}

// startReplica creates Pod pod and starts CoreDNS as it, at nice value nice (0: as this
// process), without waiting for it to serve.
func startReplica(ctx context.Context, o options, cp *devenv.ControlPlane, pod, kubeconfig string, deadPort, nice int) (*replica, error) {
	p, err := cp.CoreDNSPod(ctx, pod)
	if err != nil {
		return nil, err
	}
	port, err1 := devenv.FreePort()
	metrics, err2 := devenv.FreePort()
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("free ports: %v, %v", err1, err2)
	}
	dir := filepath.Join(o.work, "fleet", pod)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	r := &replica{pod: pod, port: port, metrics: metrics, started: time.Now(), rate: o.fleetPluginRate}
	r.CoreDNS, err = devenv.StartCoreDNS(devenv.CoreDNSOptions{
		Binary:    o.coredns,
		Corefile:  fleetCorefile(port, deadPort, metrics, kubeconfig, o.fleetPluginRate),
		Dir:       dir,
		Env:       devenv.DownwardEnv(p, "bench-node", true),
		Echo:      r.buckets.see,
		KeepLines: 20, // the errors plugin prints a line per query
		Nice:      nice,
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (r *replica) addr() string { return devenv.Loopback(r.port) }

// scrape reads the replica's metrics.
func (r *replica) scrape(ctx context.Context) (devenv.Metrics, error) {
	return devenv.ScrapeMetrics(ctx, devenv.Loopback(r.metrics))
}

// bound is the most lines the replica's token buckets can have admitted by now: for
// each bucket a selected line was charged to, BURST and QPS tokens per second since
// the replica started. Each admitted line is at most one successful write.
func (r *replica) bound(now time.Time) int {
	perBucket := math.Floor(float64(r.rate.burst) + r.rate.qps*now.Sub(r.started).Seconds())
	return r.buckets.count() * int(perBucket)
}

// bucketsSeen records which token buckets a replica's selected lines (error, warning
// and fatal, the default levels) were charged to: one per plugin that logged them, and
// one shared by loggers that are not plugins. All of them are of event type Warning.
type bucketsSeen struct {
	mu  sync.Mutex
	set map[string]bool
}

// selectedLine matches a line k8s_event selects at the default levels, and the plugin
// logger's prefix, if any.
var selectedLine = regexp.MustCompile(`^\[(?:ERROR|WARNING|FATAL)\] (plugin/[a-z0-9_]+: )?`)

func (b *bucketsSeen) see(line string) {
	m := selectedLine.FindStringSubmatch(line)
	if m == nil || m[1] == "plugin/k8s_event: " { // the plugin never reports its own lines
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.set == nil {
		b.set = map[string]bool{}
	}
	b.set[m[1]] = true
}

func (b *bucketsSeen) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.set)
}
