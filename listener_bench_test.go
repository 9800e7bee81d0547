package k8s_event

import (
	"runtime"
	"testing"
)

// BenchmarkListener measures k8s_event's listener alone: the calls CoreDNS's log
// package makes to it for each plugin log line, without the formatting and printing the
// log package does with or without a listener. It is what BenchmarkLogLine's deltas to
// no_listener measure, free of the noise of the ~300 ns those add around it. CoreDNS
// runs in-process from a Corefile, as there; allocations are counted process-wide.
func BenchmarkListener(b *testing.B) {
	for _, bc := range listenerCases {
		b.Run(bc.name, func(b *testing.B) { benchListener(b, bc) })
	}
}

// listenerCases are the cases of BenchmarkListener (no_listener and the API hanging
// make no sense for a direct call).
var listenerCases = []logLineCase{logLineCases[1], logLineCases[2], logLineCases[3]}

func benchListener(b *testing.B, bc logLineCase) {
	inst := startForBenchmark(b, newFake(), bc.stanza, bc.ticking)
	l := processPipeline().listener
	// The arguments as the errors plugin's logger passes them on: already boxed.
	v := []any{42}
	l.Errorf("plugin/errors: ", floodMessage, v...) // takes the rate-limited case's only token

	before := readCounters()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		l.Errorf("plugin/errors: ", floodMessage, v...)
	}
	b.StopTimer()
	reportSelection(b, before)
	stopCoreDNS(b, inst)
}

// TestListenerBenchmarkBrief runs every case of BenchmarkListener once, so that `make
// test` keeps it working and true to its case names; it checks no timing.
func TestListenerBenchmarkBrief(t *testing.T) {
	for _, bc := range listenerCases {
		benchmarkBrief(t, bc.name, bc.selected, bc.refused, func(b *testing.B) { benchListener(b, bc) })
	}
}

// parallelLoggers is how many goroutines log at once in BenchmarkListenerParallel: CoreDNS
// serves queries on every core, and a failing upstream makes each of them log.
const parallelLoggers = 8

// BenchmarkListenerParallel is BenchmarkListener's refused cases with parallelLoggers
// goroutines calling the listener at once (GOMAXPROCS is raised to match, whatever the
// machine has), all through the same plugin's logger: what they share (the token bucket,
// the counters) is what this measures. ns/op is wall time per line across them all;
// cpu-ns/op is the process's CPU time per line, which on fewer cores than loggers is the
// figure to compare with BenchmarkListener's ns/op.
func BenchmarkListenerParallel(b *testing.B) {
	cases := []struct{ name, stanza string }{
		{name: "level_not_reported", stanza: "k8s_event {\n level info\n }"},
		{name: "rate_limited", stanza: "k8s_event {\n rate 1/3600 1\n }"},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			inst := startForBenchmark(b, newFake(), bc.stanza, false)
			l := processPipeline().listener
			v := []any{42}
			l.Errorf("plugin/errors: ", floodMessage, v...) // takes the rate-limited case's only token

			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(parallelLoggers))
			b.SetParallelism(1) // GOMAXPROCS goroutines
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU()
			b.RunParallel(func(pb *testing.PB) {
				v := []any{42}
				for pb.Next() {
					l.Errorf("plugin/errors: ", floodMessage, v...)
				}
			})
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
			b.StopTimer()
			stopCoreDNS(b, inst)
		})
	}
}
