package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coredns/k8s_event/e2e/controlplane"
	"github.com/miekg/dns"
	"golang.org/x/perf/benchmath"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
)

// The real ./coredns against a local kube-apiserver: dnsperf throughput with
// k8s_event on and off, and the delay from a log line to its event.

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

// coreDNS is a running ./coredns, what it prints counted.
type coreDNS struct {
	name  string
	port  int
	pprof int // port of the pprof plugin
	cmd   *exec.Cmd
	out   *outputCounter
	done  chan struct{}
}

func startCoreDNS(o options, name, contents string, env []string) (*coreDNS, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	contents = strings.Replace(contents, ".:PORT {", fmt.Sprintf(".:%d {", port), 1)
	pprofPort, err := freePort()
	if err != nil {
		return nil, err
	}
	contents = strings.Replace(contents, "PPROF", fmt.Sprintf("pprof 127.0.0.1:%d", pprofPort), 1)
	conf := filepath.Join(o.work, name+".Corefile")
	if err := os.WriteFile(conf, []byte(contents), 0o644); err != nil {
		return nil, err
	}
	c := &coreDNS{name: name, port: port, pprof: pprofPort, out: &outputCounter{}, done: make(chan struct{})}
	c.cmd = exec.Command(o.coredns, "-conf", conf)
	c.cmd.Env = append(os.Environ(), env...)
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	c.cmd.Stdout, c.cmd.Stderr = pw, pw
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = c.cmd.Start()
	pw.Close()
	if err != nil {
		pr.Close()
		return nil, fmt.Errorf("starting %s: %v", o.coredns, err)
	}
	counted := make(chan struct{})
	go func() { c.out.count(pr); pr.Close(); close(counted) }()
	go func() { c.cmd.Wait(); <-counted; close(c.done) }()
	if err := c.waitReady(15 * time.Second); err != nil {
		c.stop()
		return nil, fmt.Errorf("%s: %v; its log:\n%s", name, err, c.out.tail())
	}
	return c, nil
}

// waitReady waits until the server answers a query, with any rcode.
func (c *coreDNS) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &dns.Client{Timeout: 300 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion("ready.example.", dns.TypeA)
	for {
		select {
		case <-c.done:
			return errors.New("exited")
		default:
		}
		if _, _, err := client.Exchange(m, c.addr()); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not answering after %v", timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *coreDNS) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)) }

func (c *coreDNS) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	syscall.Kill(-c.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.done
	}
}

// cpu is the process's user+system CPU time so far, from /proc/PID/stat.
func (c *coreDNS) cpu() (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses: state is field 3.
	i := strings.LastIndexByte(string(data), ')')
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", c.cmd.Process.Pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	const clockTick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	return time.Duration(utime+stime) * clockTick, nil
}

// outputCounter reads what CoreDNS prints, every line of which the errors plugin's
// logged lines are most, and counts the lines that come from k8s_event or client-go's
// event pipeline instead. It keeps the last lines for error messages.
type outputCounter struct {
	mu       sync.Mutex
	plugin   int // lines from k8s_event or client-go since the last take
	samples  []string
	last     [20]string
	lines    int
	reported int // samples already returned
}

func (oc *outputCounter) count(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		own := strings.Contains(l, "k8s_event") || strings.Contains(l, "dropped event")
		oc.mu.Lock()
		oc.last[oc.lines%len(oc.last)] = l
		oc.lines++
		if own {
			oc.plugin++
			if len(oc.samples) < 2 {
				oc.samples = append(oc.samples, l)
			}
		}
		oc.mu.Unlock()
	}
}

// take returns the count of the plugin's lines since the last take, with up to two of
// them.
func (oc *outputCounter) take() (int, []string) {
	oc.mu.Lock()
	defer oc.mu.Unlock()
	n, samples := oc.plugin, oc.samples
	oc.plugin, oc.samples = 0, nil
	return n, samples
}

func (oc *outputCounter) tail() string {
	oc.mu.Lock()
	defer oc.mu.Unlock()
	var b strings.Builder
	for i := max(0, oc.lines-len(oc.last)); i < oc.lines; i++ {
		b.WriteString(oc.last[i%len(oc.last)] + "\n")
	}
	return b.String()
}

// pluginLines counts the lines printed since the last call that come from k8s_event or
// client-go's event pipeline, not from the errors plugin. Lines still in the pipe are
// counted next time.
func (c *coreDNS) pluginLines() (int, []string) { return c.out.take() }

// profile fetches a CPU profile of the server over most of a run of length d into
// work/label.pprof, and sets *path to it. The channel closes when done.
func (c *coreDNS) profile(o options, d time.Duration, label string, path *string) <-chan struct{} {
	done := make(chan struct{})
	secs := max(1, int((d-time.Second)/time.Second))
	go func() {
		defer close(done)
		url := fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=%d", c.pprof, secs)
		resp, err := http.Get(url)
		if err != nil {
			progress("profile of %s: %v", label, err)
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(filepath.Join(o.work, label+".pprof"))
		if err != nil {
			progress("profile of %s: %v", label, err)
			return
		}
		defer f.Close()
		if _, err := io.Copy(f, resp.Body); err == nil {
			*path = f.Name()
		}
	}()
	return done
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// deadUDPPort is a loopback UDP port where nothing listens: queries to it are refused.
// It is taken below the ephemeral range: forward dials the dead port from an ephemeral
// one, and a dead port inside that range is sometimes picked as the source port too,
// giving a socket connected to itself whose queries come back as their own answers.
func deadUDPPort() (int, error) {
	low := 32768
	if data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(data)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				low = n
			}
		}
	}
	for p := low - 1; p >= 1024; p-- {
		c, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		c.Close()
		return p, nil
	}
	return 0, fmt.Errorf("no free UDP port below the ephemeral range (%d)", low)
}

// perfRun is one dnsperf run against one server.
type perfRun struct {
	qps       float64
	completed float64
	cpu       time.Duration // the server's CPU during the run
	mean      time.Duration
	p50, p99  time.Duration
	profile   string // CPU profile of the server during the run, if taken
}

var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (r perfRun) cpuPerQuery() float64 { return float64(r.cpu.Nanoseconds()) / r.completed }

var (
	completedRE = regexp.MustCompile(`Queries completed:\s+(\d+)`)
	qpsRE       = regexp.MustCompile(`Queries per second:\s+([\d.]+)`)
	meanRE      = regexp.MustCompile(`Average Latency \(s\):\s+([\d.]+)`)
)

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
	cpu0, err := c.cpu()
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
	cpu1, err := c.cpu()
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
	r.p50, r.p99 = percentile(lat, 0.50), percentile(lat, 0.99)
	return r, nil
}

// phase is the result of alternating off and on runs.
type phase struct {
	off, on     []perfRun
	offLines    int // printed by k8s_event or client-go: by the off server during the runs
	pluginLines int // the same, by the on server
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
	defer off.stop()
	on, err := startCoreDNS(o, label+"-on", onConf, env)
	if err != nil {
		return ph, err
	}
	defer on.stop()
	warm := min(2*time.Second, o.runDur)
	for _, c := range []*coreDNS{off, on} {
		if _, err := dnsperf(o, c, queries, warm, c.name+"-warmup", false); err != nil {
			return ph, err
		}
	}
	for _, c := range []*coreDNS{off, on} {
		c.pluginLines() // start-up and warm-up lines do not count
	}
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
	off.stop()
	on.stop()
	ph.offLines, _ = off.pluginLines()
	ph.pluginLines, ph.samples = on.pluginLines()
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
	return median(offs), median(ons), ratio
}

// fmtRatioCI shows a median ratio and its confidence interval.
func fmtRatioCI(s benchmath.Summary) string {
	if math.IsInf(s.Lo, 0) || math.IsInf(s.Hi, 0) {
		return fmtRatio(s.Center) + " (too few pairs for a 95% CI)"
	}
	return fmt.Sprintf("%s (95%% CI %.3f–%.3f)", fmtRatio(s.Center), s.Lo, s.Hi)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

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
	allowed := int(time.Duration(runs)*runDur/time.Minute) + 1
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
	if _, err := os.Stat(o.coredns); err != nil {
		return fmt.Errorf("%v (make coredns)", err)
	}
	startCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cp, err := controlplane.Start(startCtx, controlplane.Options{BinDir: o.binDir, Logf: progress})
	if err != nil {
		return err
	}
	defer cp.Stop()
	pod, err := cp.Bootstrap(startCtx, controlplane.BootstrapOptions{Files: []string{filepath.Join(o.root, "deploy", "rbac.yaml")}})
	if err != nil {
		return err
	}
	env := []string{
		"COREDNS_POD_NAME=" + pod.Name,
		"COREDNS_NAMESPACE=" + pod.Namespace,
		"COREDNS_POD_UID=" + string(pod.UID),
	}
	dead, err := deadUDPPort()
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
	conf := func(stanza string) string { return corefile(dead, cp.CoreDNSKubeconfig(), stanza) }
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

// latency times lines from the moment the query that logs them is sent to the moment
// their event arrives on a watch of the API server. Each line is distinct (the query
// name is in it). At the default spacing no rate limit on the way holds any back: not
// the token bucket (1/s, burst 256), nor the client-side limit of kubeapi's client
// (client-go's default: 5 requests/s, burst 10).
func latency(ctx context.Context, o options, t *table, cp *controlplane.ControlPlane, pod *corev1.Pod, conf string, env []string) error {
	c, err := startCoreDNS(o, "latency", conf, env)
	if err != nil {
		return err
	}
	defer c.stop()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := cp.AdminClient().CoreV1().Events(pod.Namespace).Watch(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("involvedObject.name", pod.Name).String(),
	})
	if err != nil {
		return err
	}
	defer w.Stop()

	nonce := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	nameRE := regexp.MustCompile(`lat(\d+)\.` + nonce + `\.example\.`)
	var mu sync.Mutex
	sent := map[int]time.Time{}
	var lat []time.Duration
	seen := map[int]bool{}
	all := make(chan struct{})
	go func() {
		for ev := range w.ResultChan() {
			if ev.Type != watch.Added && ev.Type != watch.Modified {
				continue
			}
			e, ok := ev.Object.(*corev1.Event)
			if !ok {
				continue
			}
			now := time.Now()
			m := nameRE.FindStringSubmatch(e.Message)
			if m == nil {
				continue
			}
			i, _ := strconv.Atoi(m[1])
			mu.Lock()
			if t0, ok := sent[i]; ok && !seen[i] {
				seen[i] = true
				lat = append(lat, now.Sub(t0))
				if len(lat) == o.latencyN {
					close(all)
				}
			}
			mu.Unlock()
		}
	}()

	client := &dns.Client{Timeout: 2 * time.Second}
	for i := range o.latencyN {
		m := new(dns.Msg)
		m.SetQuestion(fmt.Sprintf("lat%d.%s.example.", i, nonce), dns.TypeA)
		mu.Lock()
		sent[i] = time.Now()
		mu.Unlock()
		if _, _, err := client.Exchange(m, c.addr()); err != nil {
			return fmt.Errorf("query %d: %v", i, err)
		}
		time.Sleep(o.spacing)
	}
	select {
	case <-all:
	case <-time.After(10 * time.Second):
	}
	mu.Lock()
	got := slices.Clone(lat)
	mu.Unlock()
	if len(got) == 0 {
		return fmt.Errorf("no event seen for %d lines; CoreDNS log:\n%s", o.latencyN, c.out.tail())
	}
	slices.Sort(got)
	p50, p99 := percentile(got, 0.5), percentile(got, 0.99)
	name := fmt.Sprintf("log line → event on a watch of the API server (%d/%d lines %v apart seen, rate 1 256)", len(got), o.latencyN, o.spacing)
	t.add(row{measure: name + ": p50", on: fmtDur(p50), target: "≤ 50 ms", met: check(p50 <= 50*time.Millisecond && len(got) == o.latencyN)})
	t.add(row{measure: "log line → event on a watch: p99", on: fmtDur(p99), ratio: fmt.Sprintf("max %s", fmtDur(got[len(got)-1]))})
	return nil
}
