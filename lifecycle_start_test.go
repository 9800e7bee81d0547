package k8s_event

import (
	"slices"
	"strings"
	"testing"

	"github.com/coredns/caddy"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Setting k8s_event up (parsing a Corefile, a reload's that may fail among them) starts
// nothing and registers no log listener: the first configuration that starts does, and
// the final shutdown deregisters the listener.
func TestNothingRunsBeforeAConfigurationStarts(t *testing.T) {
	client := newFake()
	p := usePipeline(t, testOptions(client, true))
	// An earlier test's stopped pipeline may still be ending (client-go's broadcaster
	// shuts down on goroutines of its own): only goroutines setup started count.
	before := pipelineGoroutines()
	if err := setup(caddy.NewTestController("dns", "k8s_event")); err != nil {
		t.Fatal(err)
	}
	if g := startedSince(before, pipelineGoroutines()); len(g) != 0 {
		t.Fatalf("%d goroutines of the pipeline run after setup:\n%s", len(g), strings.Join(g, "\n\n"))
	}
	cfg, err := parse(caddy.NewTestController("dns", "k8s_event"))
	if err != nil {
		t.Fatal(err)
	}
	s := p.settingsFor(cfg, client)
	selected := func(msg string) bool {
		before := testutil.ToFloat64(linesCount.WithLabelValues("error"))
		errorsLog.Error(msg)
		return testutil.ToFloat64(linesCount.WithLabelValues("error")) != before
	}
	// Settings as if in effect: a registered listener would select the line.
	p.listener.settings.Store(s)
	if selected("logged after setup") {
		t.Error("the listener is registered by setup")
	}
	p.listener.settings.Store(nil)

	p.use(s) // as the first configuration starts
	if len(startedSince(before, pipelineGoroutines())) == 0 {
		t.Error("no goroutine of the pipeline runs once a configuration started")
	}
	if !selected("logged once a configuration started") {
		t.Error("the listener is not registered once a configuration started")
	}
	p.stop()
	p.listener.settings.Store(s)
	defer p.listener.settings.Store(nil)
	if selected("logged after the final shutdown") {
		t.Error("the listener is still registered after the final shutdown")
	}
}

// startedSince returns the goroutine stacks of now whose goroutine is not in before.
func startedSince(before, now []string) []string {
	id := func(stack string) string { return strings.SplitN(stack, " ", 3)[1] } // "goroutine N [state]:"
	var ids []string
	for _, g := range before {
		ids = append(ids, id(g))
	}
	var started []string
	for _, g := range now {
		if !slices.Contains(ids, id(g)) {
			started = append(started, g)
		}
	}
	return started
}
