package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
)

// lastWriteAfter is the time from the first query to the fleet's last successful
// write.
func (r fleetResult) lastWriteAfter() time.Duration {
	if r.audit.lastWrite.IsZero() {
		return 0
	}
	return r.audit.lastWrite.Sub(r.start)
}

// fleetResult is one fleet's run: N replicas against one API server, an outage of
// their upstream at the same moment.
type fleetResult struct {
	mode     fleetMode
	n        int
	start    time.Time // the first query
	replicas []replicaResult
	dns      dnsLoad
	drained  bool          // every replica's backlog emptied before the wait's end
	window   time.Duration // from the first query until drained (or the wait's end)
	apiCPU   time.Duration // kube-apiserver's CPU over the window
	apiIdle  time.Duration // what it uses idle, over as long
	etcdCPU  time.Duration
	audit    fleetAudit
}

// replicaResult is one replica's counters, read once its backlog was empty.
type replicaResult struct {
	pod     string
	bound   int // most writes its token buckets allowed
	metrics devenv.Metrics
}

func (r replicaResult) lines() float64    { return r.metrics.Sum("coredns_k8s_event_lines_total") }
func (r replicaResult) reported() float64 { return r.metrics.Sum("coredns_k8s_event_reported_total") }
func (r replicaResult) dropped(reason string) float64 {
	return r.metrics.Get("coredns_k8s_event_dropped_total", "reason", reason)
}
func (r replicaResult) droppedAll() float64 { return r.metrics.Sum("coredns_k8s_event_dropped_total") }

// inFlight is the replica's selected lines neither reported nor counted as dropped.
func (r replicaResult) inFlight() float64 { return r.lines() - r.reported() - r.droppedAll() }

// attempts is the Events API calls the plugin counted, retries included.
func (r replicaResult) attempts() float64 { return r.metrics.Sum("coredns_k8s_event_api_writes_total") }

// dropReasons are the reasons of coredns_k8s_event_dropped_total, in the README's order.
var dropReasons = []string{"rate_limited", "queue_full", "rejected", "retries_exhausted", "shutdown"}

// runFleet starts n replicas as Pods fleet-n-00..., lets them idle a moment (the API
// server's idle CPU), sends each o.fleetRate failing queries per second for
// o.fleetDur, all from the same moment, and waits until every replica has written or
// dropped every line it selected, at most o.fleetDrain. Then it reads the counters and
// the audit log, and stops the replicas.
func runFleet(ctx context.Context, o options, cp *devenv.ControlPlane, mode fleetMode, n int, kubeconfig string) (res fleetResult, err error) {
	res = fleetResult{mode: mode, n: n}
	dead, err := devenv.FreePort()
	if err != nil {
		return res, err
	}
	replicas := make([]*replica, 0, n)
	defer func() {
		killed, stopErr := stopReplicas(replicas)
		if killed > 0 {
			stopErr = errors.Join(stopErr, fmt.Errorf("%d of %d replicas killed after SIGTERM's grace", killed, len(replicas)))
		}
		err = errors.Join(err, stopErr)
	}()
	for i := range n {
		r, err := startReplica(ctx, o, cp, fmt.Sprintf("fleet-%d-%02d", n, i), kubeconfig, dead, 0)
		if err != nil {
			return res, err
		}
		replicas = append(replicas, r)
	}
	ready, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, r := range replicas {
		if err := r.WaitReady(ready); err != nil {
			return res, fmt.Errorf("%s: %v; its log:\n%s", r.pod, err, r.Tail(20))
		}
	}

	idle := 2 * time.Second
	api0, err := cp.CPUTime("kube-apiserver")
	if err != nil {
		return res, err
	}
	time.Sleep(idle)
	api1, err1 := cp.CPUTime("kube-apiserver")
	etcd1, err2 := cp.CPUTime("etcd")
	if err := errors.Join(err1, err2); err != nil {
		return res, err
	}

	start := time.Now().Add(100 * time.Millisecond)
	addrs := make([]string, n)
	for i, r := range replicas {
		addrs[i] = r.addr()
	}
	progress("fleet %s, N=%d: %d failing queries/s to each replica for %v", mode.name, n, o.fleetRate, o.fleetDur)
	res.dns = queryAll(addrs, o.fleetRate, start, o.fleetDur)

	results, drained, err := waitDrained(ctx, replicas, start.Add(o.fleetDrain))
	if err != nil {
		return res, err
	}
	res.start, res.replicas, res.drained, res.window = start, results, drained, time.Since(start)
	api2, err1 := cp.CPUTime("kube-apiserver")
	etcd2, err2 := cp.CPUTime("etcd")
	if err := errors.Join(err1, err2); err != nil {
		return res, err
	}
	res.apiCPU, res.etcdCPU = api2-api1, etcd2-etcd1
	res.apiIdle = time.Duration(float64(api1-api0) * res.window.Seconds() / idle.Seconds())

	evs, err := cp.AuditEvents()
	if err != nil {
		return res, err
	}
	pods := make([]string, n)
	for i, r := range replicas {
		pods[i] = r.pod
	}
	res.audit = auditFleet(evs, pods)
	return res, nil
}

// waitDrained polls every replica's metrics until none has a selected line in flight,
// or deadline, and returns the last reading of each with its write bound.
func waitDrained(ctx context.Context, replicas []*replica, deadline time.Time) ([]replicaResult, bool, error) {
	for {
		results := make([]replicaResult, len(replicas))
		inFlight := 0.0
		for i, r := range replicas {
			m, err := r.scrape(ctx)
			if err != nil {
				return nil, false, fmt.Errorf("%s: %v", r.pod, err)
			}
			results[i] = replicaResult{pod: r.pod, bound: r.bound(time.Now()), metrics: m}
			inFlight += results[i].inFlight()
		}
		if inFlight == 0 {
			return results, true, nil
		}
		if time.Now().After(deadline) {
			return results, false, nil
		}
		select {
		case <-ctx.Done():
			return nil, false, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// stopReplicas stops every replica at once, as a rollout that deletes them would, and
// returns how many had to be killed after SIGTERM's grace (devenv.ErrKilled), and the
// other errors.
func stopReplicas(replicas []*replica) (killed int, err error) {
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, r := range replicas {
		wg.Go(func() {
			if err := r.Stop(); err != nil {
				mu.Lock()
				if errors.Is(err, devenv.ErrKilled) {
					killed++
				} else {
					errs = append(errs, fmt.Errorf("%s: %v", r.pod, err))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return killed, errors.Join(errs...)
}
