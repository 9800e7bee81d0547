package k8s_event

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/util/flowcontrol"
	clocktesting "k8s.io/utils/clock/testing"
)

// The buckets admit exactly what client-go's token bucket admits, for the same rate and
// the same clock readings: full at first, BURST at most, QPS tokens back per second.
func TestBucketAdmitsAsClientGo(t *testing.T) {
	for _, rate := range []struct {
		qps   float32
		burst int
	}{{defaultQPS, defaultBurst}, {1, 1}, {0.15, 10}, {1.0 / 3600, 256}, {0.7, 3}} {
		t.Run(fmt.Sprintf("%g_%d", rate.qps, rate.burst), func(t *testing.T) {
			clk := clocktesting.NewFakePassiveClock(time.Unix(1_700_000_000, 123))
			th := newThrottle(rate.qps, rate.burst, clk)
			want := flowcontrol.NewTokenBucketPassiveRateLimiterWithClock(rate.qps, rate.burst, clk)
			period := time.Duration(float64(time.Second) / float64(rate.qps))
			rng := rand.New(rand.NewPCG(1, uint64(rate.burst)))
			admitted, refused := 0, 0
			for i := range 20000 {
				// Steps from nothing to three token periods, to the nanosecond: runs of
				// refusals, partial refills and full buckets all come up.
				if i > 0 {
					clk.SetTime(clk.Now().Add(time.Duration(rng.Int64N(int64(3 * period / time.Duration(rate.burst+1))))))
				}
				if i%500 == 0 {
					clk.SetTime(clk.Now().Add(time.Duration(rng.Int64N(int64(2*period) * int64(rate.burst)))))
				}
				for range rng.IntN(4) {
					got, exp := th.admit("plugin/errors: ", levelError), want.TryAccept()
					if got != exp {
						t.Fatalf("step %d at %s: admitted %v, client-go's bucket %v", i, clk.Now(), got, exp)
					}
					if got {
						admitted++
					} else {
						refused++
					}
				}
			}
			if admitted < 500 || refused < 500 {
				t.Errorf("%d lines admitted and %d refused: the sequence tests too little", admitted, refused)
			}
		})
	}
}

func TestBucketStartsFullAndRefills(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Now())
	th := newThrottle(0.1, 3, clk)
	for i := range 3 {
		if !th.admit("plugin/errors: ", levelError) {
			t.Fatalf("line %d of the first burst refused, want a full bucket at first", i)
		}
	}
	if th.admit("plugin/errors: ", levelError) {
		t.Fatal("a fourth line admitted from a bucket of 3")
	}
	clk.SetTime(clk.Now().Add(9 * time.Second))
	if th.admit("plugin/errors: ", levelError) {
		t.Fatal("admitted 9 s later, want one token every 10 s")
	}
	clk.SetTime(clk.Now().Add(time.Second))
	if !th.admit("plugin/errors: ", levelError) {
		t.Fatal("refused 10 s later, want one token back")
	}
	clk.SetTime(clk.Now().Add(time.Hour))
	n := 0
	for th.admit("plugin/errors: ", levelError) {
		n++
	}
	if n != 3 {
		t.Errorf("%d lines admitted after an hour, want the bucket full at 3, no more", n)
	}
}

// Concurrent takes never hand out more tokens than the bucket holds.
func TestBucketConcurrentTakes(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Now())
	th := newThrottle(1.0/3600, 100, clk)
	var wg sync.WaitGroup
	counts := make([]int, 8)
	for g := range counts {
		spawn(&wg, func() {
			for range 1000 {
				if th.admit("plugin/errors: ", levelWarning) {
					counts[g]++
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for _, c := range counts {
		total += c
	}
	if total != 100 {
		t.Errorf("%d lines admitted by 8 goroutines from a bucket of 100", total)
	}
}

// Each plugin has its own buckets, one per event type: a flood of one takes nothing from
// another. Loggers whose name is not a directive share one pair.
func TestThrottlePerPluginAndType(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Now())
	th := newThrottle(1.0/3600, 5, clk)
	drain := func(prefix string, lv level) int {
		n := 0
		for th.admit(prefix, lv) {
			n++
		}
		return n
	}
	if n := drain("plugin/errors: ", levelError); n != 5 {
		t.Fatalf("errors: %d admitted, want 5", n)
	}
	for _, c := range []struct {
		prefix string
		lv     level
		want   int
	}{
		{"plugin/errors: ", levelWarning, 0}, // the same event type: the same bucket
		{"plugin/errors: ", levelInfo, 5},    // Normal: its own bucket
		{"plugin/reload: ", levelError, 5},
		{"plugin/kubernetes: ", levelWarning, 5},
		{"plugin/not_a_directive: ", levelError, 5},
		{"plugin/another_unknown: ", levelError, 0}, // shares the fallback pair
		{"plugin/forward: ", levelDebug, 5},
	} {
		if n := drain(c.prefix, c.lv); n != c.want {
			t.Errorf("%q at %s: %d admitted, want %d", c.prefix, c.lv, n, c.want)
		}
	}
}

func TestFloodOfOnePluginLeavesOthersTheirBurst(t *testing.T) {
	p, _, client := newTestPipeline(t, "k8s_event {\n rate 1/3600 5\n}")
	for i := range 500 {
		p.listener.Errorf("plugin/errors: ", "%d example.org. A: read udp 127.0.0.1:53->127.0.0.1:9: i/o timeout", i)
	}
	p.listener.Error("plugin/reload: ", "Corefile changed but reload failed: plugin/k8s_event: unknown property 'levels'")
	for i := range 6 {
		p.listener.Warningf("plugin/kubernetes: ", "watch of *v1.Service ended %d", i)
	}
	p.stop()
	evs := events(t, client, testNS)
	byPlugin := map[string]int{}
	for _, e := range evs {
		name, _, _ := strings.Cut(strings.TrimPrefix(e.Message, "plugin/"), ":")
		byPlugin[name]++
	}
	if want := map[string]int{"errors": 5, "reload": 1, "kubernetes": 5}; fmt.Sprint(byPlugin) != fmt.Sprint(want) {
		t.Errorf("events by plugin %v, want %v: %s", byPlugin, want, describe(evs))
	}
	want := "plugin/reload: Corefile changed but reload failed: plugin/k8s_event: unknown property 'levels'"
	if n, count := countMessage(evs, want); n != 1 || count != 1 {
		t.Errorf("the failed reload: %d events with count %d, want one of its own: %s", n, count, describe(evs))
	}
}

// client-go's correlator combines similar lines (same reason, 10 different messages in
// 10 minutes) into one event; lines of another plugin stay apart, and the combined event
// keeps its plugin's annotation.
func TestAggregationStaysWithinAPlugin(t *testing.T) {
	p, _, client := newTestPipeline(t, "k8s_event {\n rate 1 256\n}")
	for i := range 12 {
		p.listener.Errorf("plugin/errors: ", "%d example.org. A: i/o timeout", i)
	}
	waitCount(t, client, 10) // 9 lines, then the combined event of the 10th to the 12th
	reloadFailed := "plugin/reload: Corefile changed but reload failed: plugin/k8s_event: unknown property 'levels'"
	p.listener.Error("plugin/reload: ", strings.TrimPrefix(reloadFailed, "plugin/reload: "))
	p.stop()

	evs := events(t, client, testNS)
	var combined []corev1.Event
	for _, e := range evs {
		if strings.HasPrefix(e.Message, combinedPrefix) {
			combined = append(combined, e)
		}
	}
	if len(combined) != 1 || combined[0].Message != combinedPrefix+"plugin/errors: 11 example.org. A: i/o timeout" || combined[0].Count != 3 {
		t.Fatalf("want one combined event of the errors lines 9 to 11, count 3: %s", describe(evs))
	}
	if got := combined[0].Annotations[pluginAnnotation]; got != "errors" {
		t.Errorf("the combined event's annotation %s is %q, want errors", pluginAnnotation, got)
	}
	n, count := countMessage(evs, reloadFailed)
	if n != 1 || count != 1 {
		t.Fatalf("the reload line: %d events with count %d, want an event of its own: %s", n, count, describe(evs))
	}
	for _, e := range evs {
		if e.Message == reloadFailed && e.Annotations[pluginAnnotation] != "reload" {
			t.Errorf("the reload line's annotations are %v, want %s: reload", e.Annotations, pluginAnnotation)
		}
	}
}

// A combined event whose Event object is gone is created again, from the correlator's
// event, without annotations: the sink puts the plugin's back. Every event's source
// component names its plugin.
func TestAnnotationFromMessage(t *testing.T) {
	p, _, _ := newTestPipeline(t, "k8s_event")
	for _, c := range []struct{ msg, want string }{
		{"plugin/errors: 2 example.org. A: i/o timeout", "errors"},
		{combinedPrefix + "plugin/k8s_external: x", "k8s_external"},
		{"plugin/Bad Name: x", ""},
		{"plugin/errors", ""},
		{"no plugin: x", ""},
	} {
		e := &corev1.Event{Message: c.msg, InvolvedObject: podRef, Source: corev1.EventSource{Component: component}}
		completed := complete(e, p.ref.load())
		if got := completed.Annotations[pluginAnnotation]; got != c.want {
			t.Errorf("%q: annotation %q, want %q", c.msg, got, c.want)
		}
		wantSource := "CoreDNS"
		if c.want != "" {
			wantSource += "/" + c.want
		}
		if got := completed.Source.Component; got != wantSource {
			t.Errorf("%q: source component %q, want %q", c.msg, got, wantSource)
		}
		if e.Annotations != nil || e.Source.Component != component {
			t.Errorf("%q: the correlator's event was changed, want a copy", c.msg)
		}
	}
	kept := &corev1.Event{Message: "plugin/reload: x", InvolvedObject: podRef, Source: corev1.EventSource{Component: "CoreDNS/reload"}}
	kept.Annotations = map[string]string{pluginAnnotation: "reload", "other": "kept"}
	if got := complete(kept, p.ref.load()); got != kept {
		t.Errorf("a complete event was copied: %v, %v", got.Annotations, got.Source)
	}
	other := &corev1.Event{Message: "plugin/errors: x", InvolvedObject: podRef, Source: corev1.EventSource{Component: component}}
	other.Annotations = map[string]string{pluginAnnotation: "reload", "other": "kept"}
	got := complete(other, p.ref.load())
	if got.Annotations[pluginAnnotation] != "errors" || got.Annotations["other"] != "kept" || got.Source.Component != "CoreDNS/errors" {
		t.Errorf("an event whose message names errors: annotations %v, source %q, want the plugin errors (from the message) and the other annotation kept",
			got.Annotations, got.Source.Component)
	}
}

func TestFatalReportedByDefault(t *testing.T) {
	for _, c := range []struct {
		stanza string
		want   int
	}{
		{"k8s_event", 1},
		{"k8s_event {\n rate 1/3600 1\n}", 1},
		{"k8s_event {\n level error warning\n}", 0}, // as written
	} {
		t.Run(c.stanza, func(t *testing.T) {
			p, _, client := newTestPipeline(t, c.stanza)
			p.listener.Fatalf("plugin/loop: ", "Loop (%s -> %s) detected for zone %q", "127.0.0.1:53", ":53", ".")
			evs := events(t, client, testNS)
			if len(evs) != c.want {
				t.Fatalf("%d events, want %d: %s", len(evs), c.want, describe(evs))
			}
			if c.want == 1 {
				checkEvent(t, evs[0], wantEvent(podRef, "CoreDNSFatal", "Warning", `plugin/loop: Loop (127.0.0.1:53 -> :53) detected for zone "."`))
			}
		})
	}
}
