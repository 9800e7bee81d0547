// Command bench runs k8s_event's benchmarks and prints one table in which every row is
// a ratio or a delta measured in this run, with its target: the cost of a log line on
// the logging goroutine, a flood of lines through the real plugin logger, DNS
// throughput of the real CoreDNS binary with the plugin on and off against a local
// kube-apiserver, the delay from a log line to its event, and memory as the settings
// and the number of distinct messages grow; a fleet of replicas against one API server;
// and a fleet beside kube-system's controllers under API Priority and Fairness, with and
// without deploy/flowcontrol/ (apf.go). `make bench` runs it; -quick runs every part
// small, to check that the harness works.
//
// Progress and the raw outputs (benchstat's among them) go to standard error; the table
// goes to standard output.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
)

// options are the sizes of a run.
type options struct {
	root    string // repository root: the plugin's package and deploy/
	coredns string // the CoreDNS binary with kubeapi and k8s_event
	binDir  string // etcd and kube-apiserver
	work    string // scratch directory for raw outputs

	count       int           // -count of the hot-path benchmark
	benchtime   string        // -benchtime of the hot-path benchmark
	floodRate   int           // lines per second
	floodDur    time.Duration // flood length
	scaleLines  int           // lines per scale case
	scaleCache  string        // CACHESIZE values, comma-separated
	pairs       int           // DNS runs per phase, each an off and an on run
	runDur      time.Duration // one dnsperf run
	latencyN    int           // lines timed from log to watch
	spacing     time.Duration // between two of those lines
	keep        bool          // keep dnsperf's per-query output
	only        string        // comma-separated parts to run; all if empty
	fleetSizes  []int         // fleet: replicas per fleet
	fleetRate   int           // fleet: failing queries per second to each replica
	fleetDur    time.Duration // fleet: how long they are sent
	fleetDrain  time.Duration // fleet: most time from the first query until all is written
	fleetLimit  []int         // fleet: EventRateLimit's Namespace QPS and burst
	apfReplicas int           // apf: replicas in the fleet
	apfRounds   int           // apf: rounds of the three configurations
	apfRate     int           // apf: failing queries per second to each replica
	apfBefore   time.Duration // apf: the clients alone, before the outage
	apfOutage   time.Duration // apf: how long the queries fail
	apfBurst    time.Duration // apf: the outage's first part, the fleet's burst
	apfAfter    time.Duration // apf: after the outage
	apfInflight []int         // apf: kube-apiserver's --max-requests-inflight and --max-mutating-requests-inflight; nil for its defaults
	apfNice     int           // apf: the replicas' nice value (0: this process's)
	apfShares   int           // apf: if above 0, a fourth configuration, flow control with its level at these shares
	// fleetPluginRate is k8s_event's rate in every replica.
	fleetPluginRate pluginRate
}

func (o options) runs(part string) bool {
	return o.only == "" || slices.Contains(strings.Split(o.only, ","), part)
}

func main() {
	var o options
	quick := flag.Bool("quick", false, "run every part small: checks the harness, measures nothing worth keeping")
	flag.IntVar(&o.count, "count", 10, "runs of each hot-path case, for benchstat")
	flag.StringVar(&o.benchtime, "benchtime", "1s", "-benchtime of each hot-path run")
	flag.IntVar(&o.floodRate, "flood-rate", 100_000, "flood: lines per second")
	flag.DurationVar(&o.floodDur, "flood-duration", 10*time.Second, "flood: duration")
	flag.IntVar(&o.scaleLines, "scale-lines", 100_000, "scale: lines per case, and the most distinct messages")
	flag.StringVar(&o.scaleCache, "scale-caches", "64,4096,65535", "scale: CACHESIZE values")
	flag.IntVar(&o.pairs, "pairs", 10, "DNS: off/on run pairs per phase")
	flag.DurationVar(&o.runDur, "run-duration", 5*time.Second, "DNS: length of one dnsperf run")
	flag.IntVar(&o.latencyN, "latency-lines", 120, "latency: lines timed from log to watch")
	flag.DurationVar(&o.spacing, "latency-spacing", 250*time.Millisecond, "latency: time between two lines (kubeapi's client sends at most 5 requests/s after a burst of 10)")
	flag.BoolVar(&o.keep, "keep", false, "DNS: keep dnsperf's per-query output in the raw-output directory")
	flag.StringVar(&o.only, "only", "", "run only these parts, comma-separated: hotpath, flood, dns, scale, fleet, apf")
	fleetSizes := flag.String("fleet-sizes", "1,5,20", "fleet: replicas per fleet, comma-separated")
	flag.IntVar(&o.fleetRate, "fleet-rate", 20, "fleet: failing queries per second to each replica")
	flag.DurationVar(&o.fleetDur, "fleet-duration", 10*time.Second, "fleet: how long the queries fail")
	flag.DurationVar(&o.fleetDrain, "fleet-drain", 2*time.Minute, "fleet: most time from the first query until every line is written or dropped")
	fleetLimit := flag.String("fleet-limit", "50,100", "fleet: EventRateLimit's Namespace limit, QPS,BURST")
	flag.IntVar(&o.apfReplicas, "apf-replicas", 300, "apf: replicas in the fleet (cluster-proportional-autoscaler's for 5,000 nodes)")
	flag.IntVar(&o.apfRounds, "apf-rounds", 1, "apf: rounds of the three configurations, alternating")
	flag.IntVar(&o.apfRate, "apf-rate", 10, "apf: failing queries per second to each replica (each logs a line; 25 of them are the default burst)")
	flag.DurationVar(&o.apfBefore, "apf-before", 30*time.Second, "apf: the clients alone before the outage (the baseline)")
	flag.DurationVar(&o.apfOutage, "apf-outage", 2*time.Minute, "apf: how long every replica's queries fail")
	flag.DurationVar(&o.apfBurst, "apf-burst", 10*time.Second, "apf: the outage's first part, in which the fleet's burst is written")
	flag.DurationVar(&o.apfAfter, "apf-after", 30*time.Second, "apf: after the outage")
	apfInflight := flag.String("apf-inflight", "", "apf: kube-apiserver's concurrency limits READONLY,MUTATING (empty: its defaults, 400,200); smaller ones make a small fleet fill APF's seats as a large one would")
	flag.IntVar(&o.apfNice, "apf-fleet-nice", 19, "apf: the replicas' nice value: in a cluster they run on other machines than the API server and its controllers, here on the same cores (0: as this process)")
	flag.IntVar(&o.apfShares, "apf-shares", 0, "apf: if above 0, a fourth configuration: deploy/flowcontrol/ with its level's nominalConcurrencyShares at this value instead of 5 (fewer seats for the fleet)")
	fleetPluginRate := flag.String("fleet-plugin-rate", "1/300,25", "fleet: k8s_event's rate QPS,BURST in every replica (the defaults)")
	flag.Parse()
	if *quick {
		// Small sizes, for the flags not given explicitly.
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, value := range map[string]string{
			"count": "2", "benchtime": "100ms", "flood-duration": "1s", "scale-lines": "2000",
			"scale-caches": "16,64", "pairs": "1", "run-duration": "2s", "latency-lines": "8",
			"fleet-sizes": "1,3", "fleet-duration": "2s", "fleet-drain": "30s", "fleet-limit": "5,10",
			"apf-replicas": "3", "apf-before": "3s", "apf-outage": "4s", "apf-burst": "2s", "apf-after": "3s",
		} {
			if !set[name] {
				flag.Set(name, value)
			}
		}
	}
	var err error
	if o.fleetSizes, err = parseInts(*fleetSizes); err != nil {
		fatalf("-fleet-sizes: %v", err)
	}
	if o.fleetLimit, err = parseInts(*fleetLimit); err != nil || len(o.fleetLimit) != 2 {
		fatalf("-fleet-limit: want QPS,BURST: %q", *fleetLimit)
	}
	if *apfInflight != "" {
		if o.apfInflight, err = parseInts(*apfInflight); err != nil || len(o.apfInflight) != 2 {
			fatalf("-apf-inflight: want READONLY,MUTATING: %q", *apfInflight)
		}
	}
	if o.fleetPluginRate, err = parsePluginRate(*fleetPluginRate); err != nil {
		fatalf("-fleet-plugin-rate: %v", err)
	}
	paths, err := devenv.FindPaths()
	if err != nil {
		fatalf("%v", err)
	}
	o.root, o.coredns, o.binDir = paths.Root, paths.CoreDNS, paths.BinDir
	if o.work, err = os.MkdirTemp("", "k8s-event-bench-"); err != nil {
		fatalf("%v", err)
	}
	progress("raw outputs in %s", o.work)

	began := time.Now()
	ctx := context.Background()
	t := &table{}
	failed := false
	step := func(name string, f func() error) {
		progress("== %s", name)
		start := time.Now()
		if err := f(); err != nil {
			failed = true
			progress("%s FAILED: %v", name, err)
			t.add(row{measure: name + ": FAILED (" + firstLine(err.Error()) + ")"})
		}
		progress("== %s took %v", name, time.Since(start).Round(time.Second))
	}

	var testBin string
	if o.runs("hotpath") || o.runs("flood") || o.runs("scale") {
		step("build", func() (err error) { testBin, err = buildTestBinary(o); return err })
	}
	if testBin != "" && o.runs("hotpath") {
		step("hot path", func() error { return hotPath(o, testBin, t) })
	}
	if testBin != "" && o.runs("flood") {
		step("flood", func() error { return flood(o, testBin, t) })
	}
	if o.runs("dns") {
		step("DNS and latency", func() error { return dnsAndLatency(ctx, o, t) })
	}
	if testBin != "" && o.runs("scale") {
		step("scale", func() error { return scale(o, testBin, t) })
	}
	ft := &fleetTable{}
	if o.runs("fleet") {
		step("fleet", func() error { return fleet(ctx, o, t, ft) })
	}
	at := &apfTable{}
	if o.runs("apf") {
		step("apf", func() error { return apf(ctx, o, at) })
		addAPFRows(t, at.results)
	}

	if testBin != "" {
		os.Remove(testBin) // 100 MB; the rest of the raw outputs is small
	}
	fmt.Println(header(o, *quick, time.Since(began)))
	fmt.Println()
	t.print(os.Stdout)
	if len(ft.results) > 0 {
		fmt.Println()
		ft.print(os.Stdout)
	}
	if len(at.results) > 0 {
		fmt.Println()
		at.print(os.Stdout)
	}
	if failed {
		os.Exit(1)
	}
}

// header describes the machine and the run, above the table.
func header(o options, quick bool, took time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "k8s_event benchmarks, %s", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	if quick {
		b.WriteString(" (-quick: sizes too small to mean anything)")
	}
	fmt.Fprintf(&b, "\nmachine: %d CPUs (%s), %s/%s, %s", runtime.NumCPU(), cpuModel(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	if v := dnsperfVersion(); v != "" {
		fmt.Fprintf(&b, ", dnsperf %s", v)
	}
	fmt.Fprintf(&b, "\nhot path: -count %d -benchtime %s; flood: %d lines/s for %v; DNS: %d off/on pairs of %v per phase; latency: %d lines %v apart; scale: %d lines per case; fleet: N = %v, %d failing queries/s per replica for %v, k8s_event %s, EventRateLimit %d/s burst %d; apf: N = %d, %d round(s), %d failing queries/s per replica, %v before, outage %v (burst %v), %v after, API server concurrency %v, replicas at nice %d; took %v",
		o.count, o.benchtime, o.floodRate, o.floodDur, o.pairs, o.runDur, o.latencyN, o.spacing, o.scaleLines,
		o.fleetSizes, o.fleetRate, o.fleetDur, o.fleetPluginRate, o.fleetLimit[0], o.fleetLimit[1],
		o.apfReplicas, o.apfRounds, o.apfRate, o.apfBefore, o.apfOutage, o.apfBurst, o.apfAfter, inflightText(o.apfInflight), o.apfNice, took.Round(time.Second))
	if o.apfShares > 0 {
		fmt.Fprintf(&b, "; apf's fourth configuration: deploy/flowcontrol/ with its level at %d shares", o.apfShares)
	}
	return b.String()
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func dnsperfVersion() string {
	out, _ := exec.Command("dnsperf", "-h").CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(l, "Version "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(1)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// inflightText describes the API server's concurrency limits of the apf part.
func inflightText(limits []int) string {
	if limits == nil {
		return "its defaults (400 read-only, 200 mutating)"
	}
	return fmt.Sprintf("%d read-only, %d mutating", limits[0], limits[1])
}
