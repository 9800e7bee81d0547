package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
)

// TestFilters: the level, plugins and except settings decide which lines become events.
// Every CoreDNS here prints the same two lines: reload's "Running configuration" at info
// level at start-up, and one errors line for a failed query, at error level (or warning,
// where errors is told so). The lines_total metric, counted before a line is queued,
// shows that a filtered line never got near the API.
func TestFilters(t *testing.T) {
	t.Parallel()
	cl := sharedCluster(t)
	for _, tc := range []struct {
		name      string
		settings  []string
		errors    string // the errors directive
		errorTag  string // the level tag errors prints the failed query with
		errorLine string // what that line contains: by default, the query's name
		wantInfo  bool   // the reload line becomes an event
		wantError bool   // the errors line becomes an event
	}{
		{name: "level error", settings: []string{"level error"}, wantError: true},
		// errors consolidates the failed query into a warning line (of every supported
		// CoreDNS: show_first, which would print the query's own, is 1.14's).
		{name: "level warning", settings: []string{"level warning"},
			errors: "errors {\n    consolidate 1s \".*\" warning\n}", errorTag: "WARNING", errorLine: "1 errors like '.*' occurred in last 1s", wantError: true},
		{name: "level info", settings: []string{"level info"}, wantInfo: true},
		{name: "plugins reload", settings: []string{"level info error", "plugins reload"}, wantInfo: true},
		{name: "plugins errors", settings: []string{"level info error", "plugins errors"}, wantError: true},
		{name: "except reload", settings: []string{"level info error", "except reload"}, wantError: true},
		{name: "except errors", settings: []string{"level info error", "except errors"}, wantInfo: true},
		{name: "defaults", wantError: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.errors == "" {
				tc.errors, tc.errorTag = "errors", "ERROR"
			}
			if tc.errorLine == "" {
				tc.errorLine = "filtered.example.org."
			}
			errorLevel, errorReason := strings.ToLower(tc.errorTag), reasonError
			if tc.errorTag == "WARNING" {
				errorReason = reasonWarning
			}
			pod := cl.newPod(t)
			addr, metricsAddr := freeAddr(t), freeAddr(t)
			c := startCoreDNS(t, serverBlock(rootZone(addr),
				tc.errors,
				"reload 2s 1s",
				failingForward(t),
				cl.kubeapi(),
				k8sEventDirective(tc.settings...),
				prometheusDirective(metricsAddr),
			), podEnv(pod, true)...)

			infoMsg := loggedMessage(t, c, "INFO", "plugin/reload: Running configuration SHA512 = ")
			failQuery(t, addr, "filtered.example.org.")
			errorMsg := loggedMessage(t, c, tc.errorTag, tc.errorLine)

			// Both lines are printed, so the listener has seen both.
			m := scrape(t, metricsAddr)
			for _, l := range []struct {
				level string
				want  bool
			}{{"info", tc.wantInfo}, {errorLevel, tc.wantError}} {
				if got := m.Get(metricLines, "level", l.level); (got == 1) != l.want || got > 1 {
					t.Errorf("lines_total{level=%q} is %v, want %v", l.level, got, b2i(l.want))
				}
			}

			var want []string
			if tc.wantInfo {
				checkEvent(t, cl.waitEvent(t, pod, reasonInfo, infoMsg), pod, reasonInfo)
				want = append(want, infoMsg)
			}
			if tc.wantError {
				checkEvent(t, cl.waitEvent(t, pod, errorReason, errorMsg), pod, errorReason)
				want = append(want, errorMsg)
			}
			if len(want) == 0 {
				t.Fatal("bad test case: it expects no event at all")
			}
			eventually(t, 10*time.Second, "every selected line written", func() (bool, string) {
				m := scrape(t, metricsAddr)
				return int(m.Sum(metricWrites)) >= len(want), fmt.Sprintf("api_writes_total %v", m.Sum(metricWrites))
			})
			if evs := cl.events(t, pod); len(evs) != len(want) || totalCount(evs) != len(want) {
				t.Errorf("want exactly the events %q, once each, got:\n%s", want, devenv.FormatEvents(evs))
			}
		})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestTwoServerBlocks: two server blocks (zones on different ports), each with kubeapi
// and the same k8s_event, report each line once.
func TestTwoServerBlocks(t *testing.T) {
	t.Parallel()
	cl := sharedCluster(t)
	pod := cl.newPod(t)
	addrA, addrB, metricsAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	k8sEvent := k8sEventDirective("level info error", "rate 1 256")
	c := startCoreDNS(t,
		serverBlock(zoneKey("a.test.", addrA), "errors", "reload 2s 1s", failingForward(t),
			cl.kubeapi(), k8sEvent, prometheusDirective(metricsAddr))+
			serverBlock(zoneKey("b.test.", addrB), "errors", failingForward(t),
				cl.kubeapi(), k8sEvent),
		podEnv(pod, true)...)

	infoMsg := loggedMessage(t, c, "INFO", "plugin/reload: Running configuration SHA512 = ")
	failQuery(t, addrA, "one.a.test.")
	failQuery(t, addrB, "two.b.test.")
	msgA := loggedMessage(t, c, "ERROR", "one.a.test.")
	msgB := loggedMessage(t, c, "ERROR", "two.b.test.")

	checkEvent(t, cl.waitEvent(t, pod, reasonInfo, infoMsg), pod, reasonInfo)
	checkEvent(t, cl.waitEvent(t, pod, reasonError, msgA), pod, reasonError)
	checkEvent(t, cl.waitEvent(t, pod, reasonError, msgB), pod, reasonError)
	m := scrape(t, metricsAddr)
	if m.Get(metricLines, "level", "info") != 1 || m.Get(metricLines, "level", "error") != 2 {
		t.Errorf("lines_total: info %v, error %v; want 1 and 2", m.Get(metricLines, "level", "info"), m.Get(metricLines, "level", "error"))
	}
	evs := cl.events(t, pod)
	for _, msg := range []string{infoMsg, msgA, msgB} {
		if got := matching(evs, "", msg); len(got) != 1 || got[0].Count != 1 {
			t.Errorf("line %q: want one event with count 1, got:\n%s", msg, devenv.FormatEvents(got))
		}
	}
	if len(evs) != 3 {
		t.Errorf("want 3 events, one per line, got:\n%s", devenv.FormatEvents(evs))
	}
	if w := cl.waitAudit(t, 3, onPod(pod)); w.total() != 3 || w.allowed != 3 {
		t.Errorf("audit log: want 3 allowed writes, got %v (%d allowed)", w.byVerb, w.allowed)
	}
}
