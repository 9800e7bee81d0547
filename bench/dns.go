package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
)

// The real ./coredns against a local kube-apiserver: dnsperf throughput with
// k8s_event on and off, and the delay from a log line to its event.

func addPhaseRows(t *table, what string, ph phase, runs int, runDur time.Duration) {
	name := fmt.Sprintf("DNS, %s (median of %d pairs × %v, ratio per pair)", what, runs, runDur)
	qOff, qOn, qR := medianRatio(ph, func(r perfRun) float64 { return r.qps })
	t.add(row{measure: name + ": queries/s", off: fmtCount(qOff), on: fmtCount(qOn), ratio: fmtRatioCI(qR), target: "≥ ×0.99", met: check(qR.Center >= 0.99)})
	cOff, cOn, cR := medianRatio(ph, perfRun.cpuPerQuery)
	t.add(row{measure: "DNS, " + what + ": CoreDNS CPU per query", off: fmtNs(cOff), on: fmtNs(cOn), ratio: fmtRatioCI(cR), target: "≤ ×1.02", met: check(cR.Center <= 1.02)})
	pOff, pOn, pR := medianRatio(ph, func(r perfRun) float64 { return float64(r.p99) })
	t.add(row{measure: "DNS, " + what + ": p99 latency", off: fmtNs(pOff), on: fmtNs(pOn), ratio: fmtRatioCI(pR), target: "≤ ×1.05", met: check(pR.Center <= 1.05)})
	mOff, mOn, mR := medianRatio(ph, func(r perfRun) float64 { return float64(r.mean) })
	t.add(row{measure: "DNS, " + what + ": mean latency", off: fmtNs(mOff), on: fmtNs(mOn), ratio: fmtRatioCI(mR)})
	profiles := func(runs []perfRun) []string {
		var ps []string
		for _, r := range runs {
			if r.profile != "" {
				ps = append(ps, r.profile)
			}
		}
		return ps
	}
	if offProfiles, onProfiles := profiles(ph.off), profiles(ph.on); len(offProfiles) > 0 && len(onProfiles) > 0 {
		offL, offP, err1 := cpuShares(offProfiles)
		onL, onP, err2 := cpuShares(onProfiles)
		if err := errors.Join(err1, err2); err != nil {
			progress("profiles: %v", err)
		} else {
			shares := func(l, p float64) string { return fmt.Sprintf("listener %.2f%%, pipeline %.2f%%", 100*l, 100*p) }
			t.add(row{
				measure: "DNS, " + what + ": share of CoreDNS CPU in k8s_event (pprof of every run)",
				off:     shares(offL, offP), on: shares(onL, onP),
				ratio:  fmt.Sprintf("%.2f%% in all", 100*(onL+onP)),
				target: "≤ 2% (CPU per query ≤ ×1.02)", met: check(onL+onP <= 0.02),
			})
		}
	}
	// Delivery failures are printed at most once a minute, for as long as the on
	// server runs: through its own runs and the off server's.
	allowed := int(ph.window/time.Minute) + 1
	t.add(row{
		measure: "DNS, " + what + ": lines printed by k8s_event or client-go",
		off:     strconv.Itoa(ph.offLines), on: strconv.Itoa(ph.pluginLines),
		target: fmt.Sprintf("no per-line output (≤ %d)", allowed),
		met:    check(ph.pluginLines <= allowed),
	})
}

func dnsAndLatency(ctx context.Context, o options, t *table) error {
	if _, err := exec.LookPath("dnsperf"); err != nil {
		return errors.New("dnsperf is not installed (Debian package dnsperf; `make bench` installs it)")
	}
	cp, err := devenv.StartControlPlane(ctx, o.binDir)
	if err != nil {
		return err
	}
	defer cp.Stop()
	defer cp.StopOnSignal()()
	setup, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	kubeconfig, err := cp.CoreDNSKubeconfig(setup, filepath.Join(o.root, "deploy", "rbac.yaml"))
	if err != nil {
		return err
	}
	pod, err := cp.CoreDNSPod(setup, "coredns-bench")
	if err != nil {
		return err
	}
	env := devenv.DownwardEnv(pod, "bench-node", true)
	dead, err := devenv.FreePort()
	if err != nil {
		return err
	}
	queries := filepath.Join(o.work, "queries.txt")
	var q strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&q, "q%d.bench.example. A\n", i)
	}
	if err := os.WriteFile(queries, []byte(q.String()), 0o644); err != nil {
		return err
	}
	conf := func(stanza string) string { return corefile(dead, kubeconfig, stanza) }
	offConf, onConf := conf(""), conf("k8s_event")

	progress("DNS with the API server up: %d pairs of %v", o.pairs, o.runDur)
	up, err := runPhase(o, "api-up", offConf, onConf, env, queries)
	if err != nil {
		return err
	}
	addPhaseRows(t, "API up, default rate", up, o.pairs, o.runDur)

	progress("latency from a log line to its event on a watch: %d lines", o.latencyN)
	if err := latency(ctx, o, t, cp, pod, conf("k8s_event {\n        rate 1 256\n    }"), env); err != nil {
		return err
	}

	progress("DNS with the API server stopped")
	if err := cp.StopAPIServer(); err != nil {
		return err
	}
	down, err := runPhase(o, "api-down", offConf, onConf, env, queries)
	if err != nil {
		return err
	}
	addPhaseRows(t, "API stopped, default rate", down, o.pairs, o.runDur)
	return nil
}
