package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	"golang.org/x/perf/benchmath"
)

// closed stands for a profile that is not taken.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

var (
	completedRE = regexp.MustCompile(`Queries completed:\s+(\d+)`)
	qpsRE       = regexp.MustCompile(`Queries per second:\s+([\d.]+)`)
	meanRE      = regexp.MustCompile(`Average Latency \(s\):\s+([\d.]+)`)
)

// perfRun is one dnsperf run against one server.
type perfRun struct {
	qps       float64
	completed float64
	cpu       time.Duration // the server's CPU during the run
	mean      time.Duration
	p50, p99  time.Duration
	profile   string // CPU profile of the server during the run, if taken
}

func (r perfRun) cpuPerQuery() float64 { return float64(r.cpu.Nanoseconds()) / r.completed }

// dnsperf runs dnsperf against c for d at its default 100 queries outstanding, with -v
// so that every query's latency is in its output, which goes to a file read afterwards.
func dnsperf(o options, c *coreDNS, queries string, d time.Duration, label string, profile bool) (perfRun, error) {
	var r perfRun
	outPath := filepath.Join(o.work, "dnsperf-"+label+".txt")
	out, err := os.Create(outPath)
	if err != nil {
		return r, err
	}
	if !o.keep {
		defer os.Remove(outPath)
	}
	defer out.Close()
	cmd := exec.Command("dnsperf", "-s", "127.0.0.1", "-p", strconv.Itoa(c.port), "-d", queries,
		"-l", strconv.FormatFloat(d.Seconds(), 'f', -1, 64), "-v")
	cmd.Stdout = out
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cpu0, err := c.CPUTime()
	if err != nil {
		return r, err
	}
	var profiled <-chan struct{} = closed
	if profile {
		profiled = c.profile(o, d, label, &r.profile)
	}
	if err := cmd.Run(); err != nil {
		return r, fmt.Errorf("dnsperf: %v: %s", err, stderr.String())
	}
	cpu1, err := c.CPUTime()
	if err != nil {
		return r, err
	}
	r.cpu = cpu1 - cpu0
	<-profiled

	if _, err := out.Seek(0, io.SeekStart); err != nil {
		return r, err
	}
	var lat []time.Duration
	var tail strings.Builder
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "> ") {
			f := strings.Fields(l)
			if s, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
				lat = append(lat, time.Duration(s*1e9))
			}
			continue
		}
		tail.WriteString(l + "\n")
	}
	stats := tail.String()
	for _, m := range []struct {
		re  *regexp.Regexp
		dst *float64
	}{{completedRE, &r.completed}, {qpsRE, &r.qps}} {
		sm := m.re.FindStringSubmatch(stats)
		if sm == nil {
			return r, fmt.Errorf("dnsperf output without %q:\n%s", m.re, stats)
		}
		*m.dst, _ = strconv.ParseFloat(sm[1], 64)
	}
	if sm := meanRE.FindStringSubmatch(stats); sm != nil {
		s, _ := strconv.ParseFloat(sm[1], 64)
		r.mean = time.Duration(s * 1e9)
	}
	if r.completed == 0 || len(lat) == 0 {
		return r, fmt.Errorf("dnsperf completed no query:\n%s", stats)
	}
	slices.Sort(lat)
	r.p50, r.p99 = devenv.Percentile(lat, 0.50), devenv.Percentile(lat, 0.99)
	return r, nil
}

// phase is the result of alternating off and on runs.
type phase struct {
	off, on     []perfRun
	offLines    int           // printed by k8s_event or client-go: by the off server during the runs
	pluginLines int           // the same, by the on server
	window      time.Duration // from the end of the warm-up to the servers' stop
	samples     []string
}

// runPhase starts an off and an on server, warms both up, and alternates dnsperf runs
// between them, off first in even pairs and on first in odd ones.
func runPhase(o options, label, offConf, onConf string, env []string, queries string) (phase, error) {
	var ph phase
	off, err := startCoreDNS(o, label+"-off", offConf, env)
	if err != nil {
		return ph, err
	}
	defer off.Stop()
	on, err := startCoreDNS(o, label+"-on", onConf, env)
	if err != nil {
		return ph, err
	}
	defer on.Stop()
	warm := min(2*time.Second, o.runDur)
	for _, c := range []*coreDNS{off, on} {
		if _, err := dnsperf(o, c, queries, warm, c.name+"-warmup", false); err != nil {
			return ph, err
		}
	}
	for _, c := range []*coreDNS{off, on} {
		c.out.take() // start-up and warm-up lines do not count
	}
	measured := time.Now()
	for i := range o.pairs {
		order := []*coreDNS{off, on}
		if i%2 == 1 {
			order = []*coreDNS{on, off}
		}
		for _, c := range order {
			r, err := dnsperf(o, c, queries, o.runDur, fmt.Sprintf("%s-%d", c.name, i), true)
			if err != nil {
				return ph, err
			}
			progress("%s pair %d: %.0f q/s, %.2f µs CPU/query, p50 %v, p99 %v", c.name, i, r.qps, r.cpuPerQuery()/1e3, r.p50, r.p99)
			if c == off {
				ph.off = append(ph.off, r)
			} else {
				ph.on = append(ph.on, r)
			}
		}
	}
	// Stopped, so that everything they printed has been read; what the plugin prints
	// while stopping counts too.
	off.Stop()
	on.Stop()
	ph.window = time.Since(measured)
	ph.offLines, _ = off.out.take()
	ph.pluginLines, ph.samples = on.out.take()
	for _, s := range ph.samples {
		progress("%s printed: %s", on.name, s)
	}
	return ph, nil
}

// medianRatio is the median over pairs of on/off, with the 95% confidence interval of
// that median.
func medianRatio(ph phase, f func(perfRun) float64) (offMed, onMed float64, ratio benchmath.Summary) {
	var offs, ons, ratios []float64
	for i := range ph.off {
		offs = append(offs, f(ph.off[i]))
		ons = append(ons, f(ph.on[i]))
		ratios = append(ratios, f(ph.on[i])/f(ph.off[i]))
	}
	ratio = benchmath.AssumeNothing.Summary(benchmath.NewSample(ratios, &benchmath.DefaultThresholds), 0.95)
	return devenv.Median(offs), devenv.Median(ons), ratio
}

// fmtRatioCI shows a median ratio and its confidence interval.
func fmtRatioCI(s benchmath.Summary) string {
	if math.IsInf(s.Lo, 0) || math.IsInf(s.Hi, 0) {
		return fmtRatio(s.Center) + " (too few pairs for a 95% CI)"
	}
	return fmt.Sprintf("%s (95%% CI %.3f–%.3f)", fmtRatio(s.Center), s.Lo, s.Hi)
}
