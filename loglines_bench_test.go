package k8s_event

import (
	"flag"
	"testing"
)

// withBenchtime1x makes testing.Benchmark run each benchmark once until the test ends.
func withBenchtime1x(t *testing.T) {
	t.Helper()
	bt := flag.Lookup("test.benchtime")
	prev := bt.Value.String()
	if err := bt.Value.Set("1x"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bt.Value.Set(prev) })
}

// TestLogLineBenchmarkBrief runs every case of BenchmarkLogLine once (-benchtime 1x), so
// that `make test` keeps the benchmark working; it checks nothing about timing.
func TestLogLineBenchmarkBrief(t *testing.T) {
	withBenchtime1x(t)
	if r := testing.Benchmark(BenchmarkLogLine); r.N == 0 {
		t.Errorf("BenchmarkLogLine did not run: %v", r)
	}
}
