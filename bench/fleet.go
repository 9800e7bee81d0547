package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
)

// The fleet part: N CoreDNS processes, each its own Pod object, against one
// kube-apiserver, their upstream failing for all of them at the same moment, as an
// upstream outage does to a cluster's CoreDNS. It runs every N twice: against a plain
// API server, and against one with the EventRateLimit admission plugin. It measures
// what the fleet costs the API server (writes, 429s, its CPU and etcd's) and checks
// what the plugin promises: writes within N times the per-replica bound, retries of a
// 429 on the backoff schedule, every line written or counted as dropped, DNS answered.

// fleetMode is how the API server runs.
type fleetMode struct {
	name       string
	qps, burst int // EventRateLimit's Namespace limit; 0 for none
}

func fleetModes(o options) []fleetMode {
	return []fleetMode{
		{name: "plain"},
		{name: fmt.Sprintf("EventRateLimit %d/s burst %d", o.fleetLimit[0], o.fleetLimit[1]), qps: o.fleetLimit[0], burst: o.fleetLimit[1]},
	}
}

// fleet runs every mode and size, and adds the rows with targets to t and every
// figure to ft.
func fleet(ctx context.Context, o options, t *table, ft *fleetTable) error {
	for _, mode := range fleetModes(o) {
		results, err := runFleetMode(ctx, o, mode)
		for _, r := range results {
			logReplicas(r)
		}
		ft.add(results...)
		addFleetRows(t, o.fleetPluginRate, mode, results)
		if err != nil {
			return fmt.Errorf("%s: %w", mode.name, err)
		}
	}
	return nil
}

// runFleetMode starts a control plane for mode and runs a fleet of each size on it, one
// after the other; the Pods of each size have names of their own.
func runFleetMode(ctx context.Context, o options, mode fleetMode) ([]fleetResult, error) {
	var opts []devenv.Option
	if mode.qps > 0 {
		opts = append(opts, devenv.WithEventRateLimit(mode.qps, mode.burst))
	}
	cp, err := devenv.StartControlPlane(ctx, o.binDir, opts...)
	if err != nil {
		return nil, err
	}
	defer cp.Stop()
	defer cp.StopOnSignal()()
	setup, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	kubeconfig, err := cp.CoreDNSKubeconfig(setup, filepath.Join(o.root, "deploy", "rbac.yaml"))
	if err != nil {
		return nil, err
	}
	var results []fleetResult
	for _, n := range o.fleetSizes {
		began := time.Now()
		r, err := runFleet(ctx, o, cp, mode, n, kubeconfig)
		if err != nil {
			return results, fmt.Errorf("N=%d: %w", n, err)
		}
		progress("fleet %s, N=%d took %v", mode.name, n, time.Since(began).Round(time.Second))
		results = append(results, r)
	}
	return results, nil
}

// parseInts reads a comma-separated list of positive integers.
func parseInts(s string) ([]int, error) {
	var v []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q: want positive integers, comma-separated", s)
		}
		v = append(v, n)
	}
	return v, nil
}
