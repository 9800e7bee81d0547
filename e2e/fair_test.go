package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
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
	pod := newPod(t)
	addr, metricsAddr := loopbackAddr(freePort(t)), loopbackAddr(freePort(t))
	corefile := func(k8sEvent string) string {
		return serverBlock(".:"+portOf(addr),
			"errors",
			failingForward(t),
			"reload 2s 1s",
			kubeapiDirective(),
			k8sEvent,
			prometheusDirective(metricsAddr),
		)
	}
	c := startCoreDNS(t, corefile(k8sEventDirective()), podEnv(pod, true)...)

	// Flood until the errors plugin's bucket refuses lines.
	res := sendFailingQueries(t, addr, floodQueries, loadWorkers, loadDeadline)
	m := scrapeMetrics(t, metricsAddr)
	limited := m.get(metricDropped, "reason", "rate_limited")
	t.Logf("%d SERVFAIL of %d queries; lines_total{error} %v, rate limited %v",
		res.servfail.Load(), floodQueries, m.get(metricLines, "level", "error"), limited)
	if limited == 0 {
		t.Fatalf("the flood left tokens in the errors plugin's bucket: nothing rate limited")
	}

	// Break the Corefile: k8s_event's setup refuses it, the reload plugin reports it.
	c.writeCorefile(corefile(k8sEventDirective("levels error")))
	line := c.waitLine(reloadTimeout, "the reload plugin's failure line", func(l string) bool {
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
	e := waitEvent(t, pod, reason, msg)
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
	evs := podEvents(t, pod)
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
		t.Errorf("no event of the errors lines:\n%s", formatEvents(evs))
	}
	if n := len(filterEvents(evs, func(ev corev1.Event) bool { return strings.Contains(ev.Message, "plugin/reload: ") })); n != 1 {
		t.Errorf("%d events carry the reload line, want 1:\n%s", n, formatEvents(evs))
	}
	if exited, err := c.exited(); exited {
		t.Fatalf("CoreDNS exited after the failed reload: %v", err)
	}
}

// TestFatalByDefault: with k8s_event at its defaults (no level given), the loop plugin's
// fatal line becomes an event before CoreDNS exits, annotated with its plugin.
func TestFatalByDefault(t *testing.T) {
	t.Parallel()
	pod := newPod(t)
	port := freePort(t)
	c := launchCoreDNS(t, serverBlock(fmt.Sprintf(".:%d", port),
		"loop",
		"forward . "+loopbackAddr(port), // itself
		kubeapiDirective(),
		k8sEventDirective(),
	), podEnv(pod, true)...)

	if code := c.waitExit(fatalExitTimeout); code != 1 {
		t.Fatalf("CoreDNS exited with code %d, want 1", code)
	}
	msg := fatalMessage(t, c)
	// Listed once, right after the exit: the event was written before CoreDNS exited.
	evs := filterEvents(podEvents(t, pod), func(e corev1.Event) bool { return e.Reason == reasonFatal })
	if len(evs) != 1 || evs[0].Message != msg || evs[0].Count != 1 {
		t.Fatalf("want exactly one fatal event %q with count 1, got:\n%s", msg, formatEvents(evs))
	}
	checkEvent(t, evs[0], pod, reasonFatal)
	if got := evs[0].Annotations[pluginAnnotation]; got != "loop" {
		t.Errorf("the fatal event's annotations are %v, want %s: loop", evs[0].Annotations, pluginAnnotation)
	}
}
