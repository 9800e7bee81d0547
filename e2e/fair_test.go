package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
)

const (
	// pluginAnnotation names the plugin that logged an event's line.
	pluginAnnotation = "coredns.io/plugin"
	// floodQueries is how many failing queries at most TestReloadFailureDuringErrorsFlood
	// sends to empty the errors plugin's token bucket (25 at the defaults).
	floodQueries = 5000
	// ownEventLimit bounds the time from a line being printed to its event being listed,
	// when what is ahead of it is at most one burst: kubeapi's client writes 5 a second
	// after 10 at once.
	ownEventLimit = 10 * time.Second
)

// TestReloadFailureDuringErrorsFlood: with k8s_event at its defaults, failing queries
// use up the errors plugin's token bucket; a Corefile that then fails to load makes the
// reload plugin log a line that still becomes an event within seconds, on an Event of
// its own, annotated with its plugin. (With one bucket for the whole process, the errors
// lines had taken every token; and with client-go's aggregation across plugins, the line
// would have been merged into the errors lines' combined event.)
func TestReloadFailureDuringErrorsFlood(t *testing.T) {
	t.Parallel()
	cl := sharedCluster(t)
	pod := cl.newPod(t)
	addr, metricsAddr := freeAddr(t), freeAddr(t)
	corefile := func(k8sEvent string) string {
		return serverBlock(rootZone(addr),
			"errors",
			failingForward(t),
			"reload 2s 1s",
			cl.kubeapi(),
			k8sEvent,
			prometheusDirective(metricsAddr),
		)
	}
	c := startCoreDNS(t, corefile(k8sEventDirective()), podEnv(pod, true)...)

	// Flood until the errors plugin's bucket refuses lines.
	servfail, _ := sendFailingQueries(addr, floodQueries, loadWorkers, loadDeadline)
	m := scrape(t, metricsAddr)
	limited := m.Get(metricDropped, "reason", "rate_limited")
	t.Logf("%d SERVFAIL of %d queries; lines_total{error} %v, rate limited %v",
		servfail, floodQueries, m.Get(metricLines, "level", "error"), limited)
	if limited == 0 {
		t.Fatalf("the flood left tokens in the errors plugin's bucket: nothing rate limited")
	}

	// Break the Corefile: k8s_event's setup refuses it, the reload plugin reports it.
	if err := c.WriteCorefile(corefile(k8sEventDirective("levels error"))); err != nil {
		t.Fatal(err)
	}
	line := waitLine(t, c, 30*time.Second, "the reload plugin's failure line", func(l string) bool {
		return strings.Contains(l, "plugin/reload: Corefile changed but reload failed") ||
			strings.Contains(l, "plugin/reload: Corefile parse failed")
	})
	printed := time.Now()
	tag, msg, ok := strings.Cut(strings.TrimPrefix(line, "["), "] ")
	if !ok {
		t.Fatalf("unexpected line %q", line)
	}
	reason := reasonError
	if tag == "WARNING" {
		reason = reasonWarning
	}
	e := cl.waitEvent(t, pod, reason, msg)
	took := time.Since(printed)
	t.Logf("%q: event %s %v after the line", msg, e.Name, took.Round(time.Millisecond))
	if took > ownEventLimit {
		t.Errorf("the reload line's event took %v, want it within %v", took, ownEventLimit)
	}
	checkEvent(t, e, pod, reason)
	if e.Count != 1 || e.Annotations[pluginAnnotation] != "reload" {
		t.Errorf("the reload line's event: count %d, annotations %v; want count 1 and %s: reload", e.Count, e.Annotations, pluginAnnotation)
	}

	// The errors lines' events say where they come from too, the combined one included,
	// and none of them took the reload line in.
	evs := cl.events(t, pod)
	errorsEvents, combined := 0, 0
	for _, ev := range evs {
		if !strings.Contains(ev.Message, "plugin/errors: ") {
			continue
		}
		if got := ev.Annotations[pluginAnnotation]; got != "errors" {
			t.Errorf("event %s (%q): annotation %q, want errors", ev.Name, ev.Message, got)
		}
		errorsEvents++
		if strings.HasPrefix(ev.Message, combinedPrefix) {
			combined++
		}
	}
	t.Logf("%d events of the errors lines, %d of them combined", errorsEvents, combined)
	if errorsEvents == 0 {
		t.Errorf("no event of the errors lines:\n%s", devenv.FormatEvents(evs))
	}
	if n := len(withMessage(evs, "plugin/reload: ")); n != 1 {
		t.Errorf("%d events carry the reload line, want 1:\n%s", n, devenv.FormatEvents(evs))
	}
	if exited, err := c.Exited(); exited {
		t.Fatalf("CoreDNS exited after the failed reload: %v", err)
	}
}

// TestFatalByDefault: with k8s_event at its defaults (no level given), the loop plugin's
// fatal line becomes an event before CoreDNS exits, annotated with its plugin.
func TestFatalByDefault(t *testing.T) {
	t.Parallel()
	cl := sharedCluster(t)
	pod := cl.newPod(t)
	c := launchLoop(t, cl.kubeapi(), podEnv(pod, true))

	waitFatalExit(t, c, fatalExitTimeout)
	msg := fatalMessage(t, c)
	// Listed once, right after the exit: the event was written before CoreDNS exited.
	evs := withReason(cl.events(t, pod), reasonFatal)
	if len(evs) != 1 || evs[0].Message != msg || evs[0].Count != 1 {
		t.Fatalf("want exactly one fatal event %q with count 1, got:\n%s", msg, devenv.FormatEvents(evs))
	}
	checkEvent(t, evs[0], pod, reasonFatal)
	if got := evs[0].Annotations[pluginAnnotation]; got != "loop" {
		t.Errorf("the fatal event's annotations are %v, want %s: loop", evs[0].Annotations, pluginAnnotation)
	}
}
