package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	corev1 "k8s.io/api/core/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
)

// The apf part: a fleet of replicas against one kube-apiserver with API Priority and
// Fairness at its defaults, kube-system controllers and a node beside it, an upstream
// outage for every replica at once. Three configurations, alternating round by round:
// the defaults, deploy/flowcontrol/ applied, and the EventRateLimit admission plugin as
// docs/operations.md documents it. Each replica is a CoreDNS process of its own (the
// fleet part's), with its own client and connection, authenticated with the coredns
// ServiceAccount's token, at nice 19 by default: in a cluster the replicas run on other
// machines than the API server and its controllers, whose latency is measured here; on
// this machine their DNS work (every failing query, its log line) would take the API
// server's CPU at equal priority, and its cost would be counted as the API server's.

// apfConfig is one configuration of the API server.
type apfConfig struct {
	name        string
	flowControl bool  // deploy/flowcontrol/ applied
	shares      int   // with flowControl: its level's nominalConcurrencyShares changed to this; 0 as shipped
	limit       []int // EventRateLimit's Namespace QPS and burst; nil for none
}

func apfConfigs(o options) []apfConfig {
	configs := []apfConfig{
		{name: "defaults"},
		{name: "flow control", flowControl: true},
	}
	if o.apfShares > 0 {
		configs = append(configs, apfConfig{name: fmt.Sprintf("flow control, %d shares", o.apfShares), flowControl: true, shares: o.apfShares})
	}
	return append(configs, apfConfig{name: fmt.Sprintf("EventRateLimit %d/s burst %d", o.fleetLimit[0], o.fleetLimit[1]), limit: o.fleetLimit})
}

// apfPhases name the windows in which latencies are compared: before the outage, its
// burst (its first apfBurst), the rest of it, and after it.
var apfPhases = []string{"before", "burst", "outage", "after"}

// apfResult is one run of one configuration.
type apfResult struct {
	config  apfConfig
	round   int
	n       int
	phases  [4][2]time.Time // from, to of each of apfPhases
	clients []*apfClient
	fleet   fleetResult // the replicas' counters and the audit log's view of their writes
	// classified is, from the API server's APF metrics, how many requests each
	// FlowSchema → priority level pair got over the run; names maps UIDs to names.
	classified map[string]int
	names      map[string]string
	// waited is, by FlowSchema → priority level, the mean time a request waited in
	// APF's queues before it executed, over the run.
	waited map[string]time.Duration
	rssKiB int64 // one replica's peak resident memory
	killed int   // replicas still running 10 s after SIGTERM at the end, then killed
}

// apf runs every configuration o.apfRounds times, alternating, and prints its tables.
func apf(ctx context.Context, o options, at *apfTable) error {
	for round := range o.apfRounds {
		for _, c := range apfConfigs(o) {
			began := time.Now()
			r, err := runAPF(ctx, o, c, round)
			if err != nil {
				return fmt.Errorf("%s, round %d: %w", c.name, round+1, err)
			}
			progress("apf %s, round %d, N=%d took %v", c.name, round+1, o.apfReplicas, time.Since(began).Round(time.Second))
			at.results = append(at.results, r)
		}
	}
	return nil
}

// runAPF starts a control plane for c, the clients, then the fleet, and runs the phases.
func runAPF(ctx context.Context, o options, c apfConfig, round int) (res apfResult, err error) {
	res = apfResult{config: c, round: round, n: o.apfReplicas}
	var opts []devenv.Option
	if c.limit != nil {
		opts = append(opts, devenv.WithEventRateLimit(c.limit[0], c.limit[1]))
	}
	if o.apfInflight != nil {
		opts = append(opts, devenv.WithAPIServerFlag("max-requests-inflight", fmt.Sprint(o.apfInflight[0])),
			devenv.WithAPIServerFlag("max-mutating-requests-inflight", fmt.Sprint(o.apfInflight[1])))
	}
	cp, err := devenv.StartControlPlane(ctx, o.binDir, opts...)
	if err != nil {
		return res, err
	}
	defer cp.Stop()
	defer cp.StopOnSignal()()
	setup, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	rbac := filepath.Join(o.work, "apf-clients-rbac.yaml")
	if err := os.WriteFile(rbac, []byte(apfClientsRBAC), 0o644); err != nil {
		return res, err
	}
	kubeconfig, err := cp.CoreDNSKubeconfig(setup, filepath.Join(o.root, "deploy", "rbac.yaml"), rbac)
	if err != nil {
		return res, err
	}
	if c.flowControl {
		if out, err := cp.Kubectl(setup, "apply", "-k", filepath.Join(o.root, "deploy", "flowcontrol")); err != nil {
			return res, fmt.Errorf("%v\n%s", err, out)
		}
		if c.shares > 0 {
			patch := fmt.Sprintf(`{"spec":{"limited":{"nominalConcurrencyShares":%d}}}`, c.shares)
			if out, err := cp.Kubectl(setup, "patch", "prioritylevelconfiguration", "coredns-k8s-event", "--type=merge", "-p", patch); err != nil {
				return res, fmt.Errorf("%v\n%s", err, out)
			}
		}
		if err := waitFlowSchemaTaken(setup, cp, "coredns-k8s-event"); err != nil {
			return res, err
		}
	}
	clients, err := startAPFClients(setup, cp)
	if err != nil {
		return res, err
	}
	res.clients = clients

	dead, err := devenv.FreePort()
	if err != nil {
		return res, err
	}
	replicas := make([]*replica, 0, o.apfReplicas)
	// A replica killed at the end is counted, not an error: on this machine 300 of them
	// stop at once at nice 19, and their counters were read before.
	defer func() {
		var stopErr error
		res.killed, stopErr = stopReplicas(replicas)
		err = errors.Join(err, stopErr)
	}()
	for i := range o.apfReplicas {
		r, err := startReplica(ctx, o, cp, fmt.Sprintf("apf-%d-%03d", round, i), kubeconfig, dead, o.apfNice)
		if err != nil {
			return res, err
		}
		replicas = append(replicas, r)
	}
	ready, cancelReady := context.WithTimeout(ctx, 5*time.Minute)
	defer cancelReady()
	for _, r := range replicas {
		if err := r.WaitReady(ready); err != nil {
			return res, fmt.Errorf("%s: %v; its log:\n%s", r.pod, err, r.Tail(20))
		}
	}

	// The clients run through every phase.
	run, stopClients := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, cl := range clients {
		wg.Go(func() { cl.loop(run) })
	}
	defer func() { stopClients(); wg.Wait() }()

	before := time.Now()
	time.Sleep(o.apfBefore)
	start := time.Now().Add(100 * time.Millisecond)
	addrs := make([]string, len(replicas))
	for i, r := range replicas {
		addrs[i] = r.addr()
	}
	progress("apf %s, round %d, N=%d: %d failing queries/s to each replica for %v", c.name, round+1, len(replicas), o.apfRate, o.apfOutage)
	dns := queryAll(addrs, o.apfRate, start, o.apfOutage)
	end := start.Add(o.apfOutage)
	res.phases = [4][2]time.Time{{before, start}, {start, start.Add(o.apfBurst)}, {start.Add(o.apfBurst), end}, {end, end.Add(o.apfAfter)}}

	results, drained, err := waitDrained(ctx, replicas, end.Add(o.fleetDrain))
	if err != nil {
		return res, err
	}
	time.Sleep(time.Until(end.Add(o.apfAfter)))
	stopClients()
	wg.Wait()
	res.fleet = fleetResult{n: len(replicas), start: start, replicas: results, dns: dns, drained: drained, window: time.Since(start)}
	if rss, err := replicas[0].PeakRSS(); err == nil {
		res.rssKiB = rss
	}

	evs, err := cp.AuditEvents()
	if err != nil {
		return res, err
	}
	pods := make([]string, len(replicas))
	for i, r := range replicas {
		pods[i] = r.pod
	}
	res.fleet.audit = auditFleet(evs, pods)
	res.classified, res.waited, res.names, err = apfClassified(ctx, cp)
	return res, err
}

// loop runs the client's requests at its rate until ctx ends.
func (c *apfClient) loop(ctx context.Context) { c.run(ctx, c.rate, c.reqs) }

// startAPFClients creates what the clients read and patch (a Pod, a Node) and builds
// them: the controllers with their ServiceAccounts' tokens, the node with a client
// certificate of system:node:bench-node in system:nodes.
func startAPFClients(ctx context.Context, cp *devenv.ControlPlane) ([]*apfClient, error) {
	pod, err := cp.CoreDNSPod(ctx, apfTargetPod)
	if err != nil {
		return nil, err
	}
	pod.Labels["bench"] = "target"
	if _, err := cp.AdminClient().CoreV1().Pods(pod.Namespace).Update(ctx, pod, metav1.UpdateOptions{}); err != nil {
		return nil, err
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: apfNode}}
	if _, err := cp.AdminClient().CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	var clients []*apfClient
	for _, name := range apfControllers {
		kubeconfig, err := cp.ServiceAccountKubeconfig(ctx, devenv.CoreDNSNamespace, name)
		if err != nil {
			return nil, err
		}
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, err
		}
		c := &apfClient{name: name, kind: "controller", rate: apfControllerRate}
		cs, err := c.clientset(cfg)
		if err != nil {
			return nil, err
		}
		c.reqs = controllerRequests(cs, name)
		clients = append(clients, c)
	}
	cfg, err := cp.UserConfig("system:node:"+apfNode, "system:nodes", "system:authenticated")
	if err != nil {
		return nil, err
	}
	c := &apfClient{name: "node " + apfNode, kind: "node", rate: apfNodeRate}
	cs, err := c.clientset(cfg)
	if err != nil {
		return nil, err
	}
	c.reqs = nodeRequests(cs)
	return append(clients, c), nil
}

// The clients' steady rates, requests per second each.
const (
	apfControllerRate = 5
	apfNodeRate       = 2
)

// waitFlowSchemaTaken waits until the API server reports FlowSchema name in effect.
func waitFlowSchemaTaken(ctx context.Context, cp *devenv.ControlPlane, name string) error {
	for {
		fs, err := cp.AdminClient().FlowcontrolV1().FlowSchemas().Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			for _, c := range fs.Status.Conditions {
				if c.Type == flowcontrolv1.FlowSchemaConditionDangling && c.Status == flowcontrolv1.ConditionFalse {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("FlowSchema %s not in effect: %v", name, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// apfClassified reads the API server's APF counts by FlowSchema and priority level
// (dispatched and rejected) and the mean queue wait of the requests that executed, and
// the names of both kinds of object by UID.
func apfClassified(ctx context.Context, cp *devenv.ControlPlane) (map[string]int, map[string]time.Duration, map[string]string, error) {
	m, err := cp.APIServerMetrics(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	counts := map[string]int{}
	waitSum, waitCount := map[string]float64{}, map[string]float64{}
	for series, v := range m {
		pair := labelValue(series, "flow_schema") + " → " + labelValue(series, "priority_level")
		switch {
		case strings.HasPrefix(series, "apiserver_flowcontrol_dispatched_requests_total{"),
			strings.HasPrefix(series, "apiserver_flowcontrol_rejected_requests_total{"):
			counts[pair] += int(v)
		case labelValue(series, "execute") != "true":
		case strings.HasPrefix(series, "apiserver_flowcontrol_request_wait_duration_seconds_sum{"):
			waitSum[pair] += v
		case strings.HasPrefix(series, "apiserver_flowcontrol_request_wait_duration_seconds_count{"):
			waitCount[pair] += v
		}
	}
	waited := map[string]time.Duration{}
	for pair, n := range waitCount {
		if n > 0 {
			waited[pair] = time.Duration(waitSum[pair] / n * float64(time.Second))
		}
	}
	names := map[string]string{}
	fc := cp.AdminClient().FlowcontrolV1()
	fss, err1 := fc.FlowSchemas().List(ctx, metav1.ListOptions{})
	pls, err2 := fc.PriorityLevelConfigurations().List(ctx, metav1.ListOptions{})
	if err := errors.Join(err1, err2); err != nil {
		return nil, nil, nil, err
	}
	for _, fs := range fss.Items {
		names[string(fs.UID)] = fs.Name
	}
	for _, pl := range pls.Items {
		names[string(pl.UID)] = pl.Name
	}
	return counts, waited, names, nil
}

// labelValue is a label's value in a series written as in the exposition format.
func labelValue(series, label string) string {
	_, rest, ok := strings.Cut(series, label+`="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

// classifiedAs names the FlowSchema → priority level pairs of a client's responses, with
// their counts, sorted.
func classifiedAs(c *apfClient, names map[string]string) string {
	var parts []string
	for cl, n := range c.rec.Seen() {
		parts = append(parts, fmt.Sprintf("%s → %s ×%d", names[cl.FlowSchema], names[cl.PriorityLevel], n))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}
