package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
)

// reloads is how many times TestReload changes the Corefile.
const reloads = 10

// reloadTimeout bounds one reload: the reload plugin checks every 2s plus up to 1s.
const reloadTimeout = 20 * time.Second

// TestReload: each Corefile reload's "Running configuration" line becomes exactly one
// CoreDNSInfo event, however many reloads (and so reporters) came before.
func TestReload(t *testing.T) {
	t.Parallel()
	cl := sharedCluster(t)
	pod := cl.newPod(t)
	addr, metricsAddr := freeAddr(t), freeAddr(t)
	corefile := func(cacheTTL int) string {
		return serverBlock(rootZone(addr),
			"errors",
			fmt.Sprintf("cache %d", cacheTTL), // a real change: the reload plugin hashes the parsed Corefile
			"reload 2s 1s",
			localZoneDirective(),
			cl.kubeapi(),
			k8sEventDirective("level info", "rate 1 256"),
			prometheusDirective(metricsAddr),
		)
	}
	c := startCoreDNS(t, corefile(30), podEnv(pod, true)...)

	shaLines := func() []string {
		var msgs []string
		for _, l := range c.Lines() {
			if msg, ok := strings.CutPrefix(l, "[INFO] "); ok && strings.HasPrefix(msg, "plugin/reload: Running configuration SHA512 = ") {
				msgs = append(msgs, msg)
			}
		}
		return msgs
	}
	// reported reports whether the event of a line is there: on its own, or as the latest
	// message of an event client-go combined from similar ones.
	reported := func(evs []corev1.Event, msg string) bool {
		return len(matching(evs, reasonInfo, msg)) > 0 || len(matching(evs, reasonInfo, combinedPrefix+msg)) > 0
	}

	waitOutput(t, c, 10*time.Second, "the first Running configuration line", func([]string) bool { return len(shaLines()) == 1 })
	first := shaLines()[0]
	checkEvent(t, cl.waitEvent(t, pod, reasonInfo, first), pod, reasonInfo)

	began := time.Now()
	for i := 1; i <= reloads; i++ {
		if err := c.WriteCorefile(corefile(30 + i)); err != nil {
			t.Fatal(err)
		}
		waitOutput(t, c, reloadTimeout, fmt.Sprintf("Running configuration line %d", i+1), func([]string) bool { return len(shaLines()) == i+1 })
		msg := shaLines()[i]
		cl.waitEvents(t, pod, eventTimeout, fmt.Sprintf("event of reload %d (%q)", i, msg), func(evs []corev1.Event) bool {
			return reported(evs, msg)
		})
		if err := localAnswer(addr, "after-reload."+localZone); err != nil {
			t.Fatalf("after reload %d: %v", i, err)
		}
	}
	t.Logf("%d reloads in %v", reloads, time.Since(began).Round(time.Millisecond))

	// Every info line CoreDNS printed by a plugin logger, but k8s_event's own, is
	// reported once: the counts of the events add up to the number of lines, and each
	// Running configuration line that has an event of its own has exactly one.
	var infoLines []string
	for _, l := range c.Lines() {
		if msg, ok := strings.CutPrefix(l, "[INFO] plugin/"); ok && !strings.HasPrefix(msg, "k8s_event: ") {
			infoLines = append(infoLines, l)
		}
	}
	shas := shaLines()
	if len(shas) != reloads+1 {
		t.Fatalf("want %d Running configuration lines, got %d", reloads+1, len(shas))
	}
	evs := cl.waitEvents(t, pod, eventTimeout, fmt.Sprintf("events with counts adding up to the %d info lines", len(infoLines)), func(evs []corev1.Event) bool {
		return totalCount(withReason(evs, reasonInfo)) >= len(infoLines)
	})
	info := withReason(evs, reasonInfo)
	if got := totalCount(info); got != len(infoLines) {
		t.Errorf("event counts add up to %d, want one per info line, %d:\n%s", got, len(infoLines), devenv.FormatEvents(evs))
	}
	combined := 0
	for _, msg := range shas {
		own := matching(info, reasonInfo, msg)
		switch {
		case len(own) == 1 && own[0].Count == 1:
			checkEvent(t, own[0], pod, reasonInfo)
		case len(own) == 0 && strings.HasPrefix(info[len(info)-1].Message, combinedPrefix):
			combined++ // counted in the combined event
		default:
			t.Errorf("line %q: want exactly one event with count 1, got:\n%s", msg, devenv.FormatEvents(own))
		}
	}
	if n := len(withReason(evs, reasonError)) + len(withReason(evs, reasonWarning)); n != 0 {
		t.Errorf("want no error or warning events, got:\n%s", devenv.FormatEvents(evs))
	}

	// The metrics tell the same story.
	m := scrape(t, metricsAddr)
	lines, writes := m.Get(metricLines, "level", "info"), m.Sum(metricWrites)
	okWrites := m.Get(metricWrites, "result", "success", "verb", "create") + m.Get(metricWrites, "result", "success", "verb", "patch")
	t.Logf("%d info lines, %d events (%d lines in combined ones); metrics: lines_total{info} %v, api_writes_total %v (%v successful), dropped_total %v",
		len(infoLines), len(info), combined, lines, writes, okWrites, m.Sum(metricDropped))
	if int(lines) != len(infoLines) || int(okWrites) != len(infoLines) || writes != okWrites {
		t.Errorf("metrics: lines_total{level=info} %v and successful api_writes_total %v (of %v), want %d each",
			lines, okWrites, writes, len(infoLines))
	}
	if w := cl.waitAudit(t, len(infoLines), onPod(pod)); w.total() != len(infoLines) || w.allowed != len(infoLines) {
		t.Errorf("audit log: want %d allowed writes, got %v (%d allowed)", len(infoLines), w.byVerb, w.allowed)
	}
}

// TestManyReloadsOneEventPerLine: 50 reloads (SIGUSR1) alternating between two settings,
// then one that fails, with a failing query after each: every line is reported exactly
// once (the Counts of the error events add up to the lines logged), and the failed
// reload leaves the running settings reporting.
func TestManyReloadsOneEventPerLine(t *testing.T) {
	t.Parallel()
	cl := sharedCluster(t)
	pod := cl.newPod(t)
	addr := freeAddr(t)
	forward := failingForward(t)
	corefile := func(settings string, i int) string {
		return serverBlock(rootZone(addr), "errors", forward, cl.kubeapi(), k8sEventDirective(settings)) + fmt.Sprintf("# %d\n", i)
	}
	c := startCoreDNS(t, corefile("rate 1 256", 0), podEnv(pod, true)...)
	lines := 0
	for i := range 50 {
		settings := []string{"rate 1 256", "level error\n    rate 1 256 1024"}[i%2]
		reload(t, c, corefile(settings, i+1))
		waitOutput(t, c, 20*time.Second, fmt.Sprintf("reload %d", i+1), func(l []string) bool {
			return countLines(l, "[INFO] ", "Reloading complete") >= i+1
		})
		failQuery(t, addr, fmt.Sprintf("after-reload-%d.example.org.", i))
		lines++
	}
	reload(t, c, corefile("level nonsense", 51))
	waitOutput(t, c, 20*time.Second, "the failed reload", func(l []string) bool { return countLines(l, "[ERROR] ", "nonsense") > 0 })
	failQuery(t, addr, "after-failed-reload.example.org.")
	lines++

	evs := cl.waitEvents(t, pod, 60*time.Second, fmt.Sprintf("error events adding up to %d lines", lines), func(evs []corev1.Event) bool {
		return totalCount(withReason(evs, reasonError)) >= lines
	})
	time.Sleep(2 * time.Second) // a duplicate would show now
	evs = cl.events(t, pod)
	if got := totalCount(withReason(evs, reasonError)); got != lines {
		t.Errorf("error events count %d lines, want exactly %d:\n%s", got, lines, devenv.FormatEvents(evs))
	}
	if len(withMessage(evs, "after-failed-reload.example.org.")) == 0 && len(withMessage(evs, combinedPrefix)) == 0 {
		t.Errorf("the line after the failed reload was not reported:\n%s", devenv.FormatEvents(evs))
	}
}

// TestReloadWhileProfiling: a reload during a CPU profile fails as the old configuration
// shuts down, after the new one took over: pprof, which shuts down before k8s_event,
// cannot stop its HTTP server within 5 s, and caddy calls the old configuration's
// restart-failed callbacks. The new configuration serves, and its k8s_event settings
// must stay: here they report the errors lines the old ones left out.
func TestReloadWhileProfiling(t *testing.T) {
	t.Parallel()
	if coreDNSBefore(t, 1, 14) {
		t.Skipf("CoreDNS %s: before 1.14 pprof closes its listener at once, so no reload fails this way", binaryVersion.name)
	}
	cl := sharedCluster(t)
	pod := cl.newPod(t)
	addr, metricsAddr, pprofAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	forward := failingForward(t)
	corefile := func(settings ...string) string {
		return serverBlock(rootZone(addr), "errors", forward, "pprof "+pprofAddr, cl.kubeapi(),
			k8sEventDirective(settings...), prometheusDirective(metricsAddr))
	}
	c := startCoreDNS(t, corefile("level error warning", "except errors"), podEnv(pod, true)...)
	failQuery(t, addr, "before-reload.example.org.")
	loggedMessage(t, c, "ERROR", "before-reload.example.org.")
	if got := scrape(t, metricsAddr).Get(metricLines, "level", "error"); got != 0 {
		t.Fatalf("lines_total{level=error} is %v before the reload, want 0: the first settings leave errors out", got)
	}

	profiling := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + pprofAddr + "/debug/pprof/profile?seconds=20")
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		profiling <- err
	}()
	eventually(t, 10*time.Second, "the CPU profile running", func() (bool, string) {
		stacks, err := httpGet("http://" + pprofAddr + "/debug/pprof/goroutine?debug=2")
		return err == nil && strings.Contains(stacks, "net/http/pprof.Profile("), fmt.Sprint(err)
	})

	reload(t, c, corefile("level error warning"))
	waitLine(t, c, 30*time.Second, "pprof failing to stop during the reload", func(l string) bool {
		return strings.Contains(l, "plugin/pprof: Failed to stop pprof http server")
	})
	// caddy prints this once the restart-failed callbacks have run.
	waitLine(t, c, 10*time.Second, "caddy reporting the failed reload", func(l string) bool {
		return strings.HasPrefix(l, "[ERROR] Restart failed: ")
	})

	failQuery(t, addr, "after-reload.example.org.")
	msg := loggedMessage(t, c, "ERROR", "after-reload.example.org.")
	if got := scrape(t, metricsAddr).Get(metricLines, "level", "error"); got != 1 {
		t.Errorf("lines_total{level=error} is %v after the failed reload, want 1: the serving configuration reports errors lines", got)
	}
	checkEvent(t, cl.waitEvent(t, pod, reasonError, msg), pod, reasonError)
	if err := <-profiling; err != nil {
		t.Logf("the CPU profile ended with %v", err)
	}
}

// httpGet returns the body at url.
func httpGet(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestLameDuckAfterSIGUSR1Reload: caddy's SIGUSR1 reload removes every event hook before
// it starts the new configuration, and puts them back only if that fails. After one,
// SIGTERM still leaves the reporting on through the health plugin's lame duck: a query
// that fails while CoreDNS still answers is reported, by the final flush, before CoreDNS
// exits.
//
// The query fails in the errors plugin itself, which has no plugin after it: not in
// forward, whose shutdown, before the lame duck, stops its connections. Before CoreDNS
// 1.15 forward then retries a query until its 5 s deadline, longer than the lame duck, and
// logs its line after the final shutdown, when nothing reports any more (docs/operations.md).
func TestLameDuckAfterSIGUSR1Reload(t *testing.T) {
	t.Parallel()
	cl := sharedCluster(t)
	pod := cl.newPod(t)
	addr, healthAddr := freeAddr(t), freeAddr(t)
	corefile := func(i int) string {
		return serverBlock(rootZone(addr), fmt.Sprintf("health %s {\n    lameduck 3s\n}", healthAddr),
			"errors", cl.kubeapi(), k8sEventDirective("rate 1 256")) + fmt.Sprintf("# %d\n", i)
	}
	c := startCoreDNS(t, corefile(0), podEnv(pod, true)...)
	reload(t, c, corefile(1))
	waitOutput(t, c, reloadTimeout, "the SIGUSR1 reload", func(l []string) bool {
		return countLines(l, "[INFO] ", "Reloading complete") >= 1
	})

	if err := c.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, c, 10*time.Second, "the lame duck", func(l []string) bool {
		return countLines(l, "[INFO] ", "Going into lameduck mode") >= 1
	})
	if r, _, err := devenv.Query(addr, "during-lame-duck.example.org.", dns.TypeA); err != nil || r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("the query during the lame duck: %v, %v; want SERVFAIL (errors has no plugin after it)", r, err)
	}
	if code, err := c.WaitExit(timeout(t, 30*time.Second)); err != nil || code != 0 {
		t.Fatalf("CoreDNS after SIGTERM: exit code %d, %v", code, err)
	}
	const line = "plugin/errors: 2 during-lame-duck.example.org. A: "
	evs := cl.events(t, pod)
	found := false
	for _, e := range withReason(evs, reasonError) {
		found = found || strings.HasPrefix(e.Message, line)
	}
	if !found {
		t.Errorf("after a SIGUSR1 reload, the line logged during the lame duck (%q...) was not reported before CoreDNS exited:\n%s", line, devenv.FormatEvents(evs))
	}
}
