package k8s_event

import (
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
