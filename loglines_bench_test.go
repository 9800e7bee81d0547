package k8s_event

import (
	"flag"
	"testing"
)

// TestLogLineBenchmarkBrief runs every case of BenchmarkLogLine once (-benchtime 1x), so
// that `make test` keeps the benchmark working; it checks nothing about timing.
func TestLogLineBenchmarkBrief(t *testing.T) {
	bt := flag.Lookup("test.benchtime")
	prev := bt.Value.String()
	if err := bt.Value.Set("1x"); err != nil {
		t.Fatal(err)
	}
	defer bt.Value.Set(prev)
	if r := testing.Benchmark(BenchmarkLogLine); r.N == 0 {
		t.Errorf("BenchmarkLogLine did not run: %v", r)
	}
}
