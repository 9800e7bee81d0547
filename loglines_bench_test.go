package k8s_event

import (
	"errors"
	"flag"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	clog "github.com/coredns/coredns/plugin/pkg/log"
	corev1 "k8s.io/api/core/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

// tickingClock advances one second each time it is read, so every token bucket check
// finds a fresh token: the benchmark of admitted lines needs no real time to pass. Its
// timers are real ones.
type tickingClock struct {
	clock.RealClock
	ns atomic.Int64
}

func (c *tickingClock) Now() time.Time {
	return time.Unix(0, c.ns.Add(int64(time.Second)))
}

func (c *tickingClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// startForBenchmark starts CoreDNS in-process with stanza, reporting as the test Pod to
// client; with ticking, every token bucket check finds a fresh token.
func startForBenchmark(b *testing.B, client kubernetes.Interface, stanza string, ticking bool) *caddy.Instance {
	b.Helper()
	opts := testOptions(client, true)
	opts.flushTimeout = 50 * time.Millisecond
	if ticking {
		opts.clock = &tickingClock{}
	}
	usePipeline(b, opts)
	return startCoreDNS(b, corefile(stanza))
}

// logLineCase is a case of BenchmarkLogLine, with what it claims to measure: the share
// of the timed lines the plugin selects, and the share its rate limit refuses.
type logLineCase struct {
	name              string
	stanza            string // empty: no k8s_event at all
	ticking           bool   // a fresh token for every line
	hangSink          bool   // the Events API never answers
	warmedUp          bool   // the warm-up line becomes an event
	selected, refused float64
}

var logLineCases = []logLineCase{
	{name: "no_listener"},
	{name: "level_not_reported", stanza: "k8s_event {\n level info\n }"},
	{name: "rate_limited", stanza: "k8s_event {\n rate 1/3600 1\n }", warmedUp: true, selected: 1, refused: 1},
	{name: "admitted", stanza: "k8s_event {\n rate 1 256\n }", ticking: true, warmedUp: true, selected: 1},
	{name: "rate_limited_api_hangs", stanza: "k8s_event {\n rate 1/3600 1\n }", hangSink: true, selected: 1, refused: 1},
	{name: "admitted_api_hangs", stanza: "k8s_event {\n rate 1 256\n }", ticking: true, hangSink: true, selected: 1},
}

// BenchmarkLogLine measures what a plugin log line costs the goroutine that logs it, as
// a DNS query's goroutine logs through the errors plugin: CoreDNS runs in-process from a
// Corefile and allocations are counted process-wide, so the pipeline's own goroutines
// count too. Compare each case with no_listener.
func BenchmarkLogLine(b *testing.B) {
	for _, bc := range logLineCases {
		b.Run(bc.name, func(b *testing.B) { benchLogLine(b, bc) })
	}
}

func benchLogLine(b *testing.B, bc logLineCase) {
	errorsLog := clog.NewWithPlugin("errors")
	client := newFake()
	release := make(chan struct{})
	if bc.hangSink {
		client.PrependReactor("*", "events", func(k8stesting.Action) (bool, k8sruntime.Object, error) {
			<-release
			return true, nil, errors.New("gave up")
		})
	}
	inst := startForBenchmark(b, client, bc.stanza, bc.ticking)
	// Take the rate-limited cases' only token, and let the first event through the
	// fake's one-time set-up, before measuring.
	errorsLog.Errorf("%d example.org. A: read udp 127.0.0.1:53->127.0.0.1:9: i/o timeout", -1)
	if bc.warmedUp {
		eventuallyEvents(b, client, testNS, "the warm-up event", func(evs []corev1.Event) bool { return len(evs) == 1 })
	}

	before := readCounters()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		errorsLog.Errorf("%d example.org. A: read udp 127.0.0.1:53->127.0.0.1:9: i/o timeout", i)
	}
	b.StopTimer()
	reportSelection(b, before)
	close(release)
	stopCoreDNS(b, inst)
}

// reportSelection reports, per timed line, the lines the plugin selected and those its
// rate limit refused since before.
func reportSelection(b *testing.B, before pluginCounters) {
	d := readCounters().since(before)
	b.ReportMetric(d.selected/float64(b.N), "selected/op")
	b.ReportMetric(d.dropped[dropRateLimited]/float64(b.N), "refused/op")
}

// benchmarkBrief runs a benchmark case once (-benchtime 1x) and checks that it measured
// what it claims: the shares of lines selected and refused.
func benchmarkBrief(t *testing.T, name string, selected, refused float64, bench func(*testing.B)) {
	t.Helper()
	bt := flag.Lookup("test.benchtime")
	prev := bt.Value.String()
	if err := bt.Value.Set("1x"); err != nil {
		t.Fatal(err)
	}
	defer bt.Value.Set(prev)
	r := testing.Benchmark(bench)
	if r.N == 0 || r.Extra["selected/op"] != selected || r.Extra["refused/op"] != refused {
		t.Errorf("%s: %d lines, %v selected and %v refused per line; want %v and %v", name, r.N,
			r.Extra["selected/op"], r.Extra["refused/op"], selected, refused)
	}
}

// TestLogLineBenchmarkBrief runs every case of BenchmarkLogLine once, so that `make test`
// keeps the benchmark working and true to its case names; it checks no timing.
func TestLogLineBenchmarkBrief(t *testing.T) {
	for _, bc := range logLineCases {
		benchmarkBrief(t, bc.name, bc.selected, bc.refused, func(b *testing.B) { benchLogLine(b, bc) })
	}
}
