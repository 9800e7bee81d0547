package main

import (
	"strings"
	"testing"
)

func TestParseBench(t *testing.T) {
	out := `goos: linux
BenchmarkLogLine/no_listener-2   	 888063	       615.3 ns/op	     264 B/op	       7 allocs/op
BenchmarkFlood/on-2          	       1	      1380 cpu-ns/line	        10.00 creates	    999913 lines
    flood_bench_test.go:1: printed: something
PASS
`
	rs := parseBench(out)
	if len(rs) != 2 {
		t.Fatalf("%d results, want 2: %+v", len(rs), rs)
	}
	if rs[0].name != "BenchmarkLogLine/no_listener" || rs[0].values["ns/op"] != 615.3 || rs[0].values["allocs/op"] != 7 {
		t.Errorf("first result: %+v", rs[0])
	}
	if rs[1].name != "BenchmarkFlood/on" || rs[1].values["lines"] != 999913 || rs[1].values["creates"] != 10 {
		t.Errorf("second result: %+v", rs[1])
	}
}

func TestFmtCount(t *testing.T) {
	for n, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 999946: "999,946", -1234567: "-1,234,567"} {
		if got := fmtCount(n); got != want {
			t.Errorf("fmtCount(%v) = %q, want %q", n, got, want)
		}
	}
}

func TestPluginLines(t *testing.T) {
	var p pluginLines
	for _, l := range []string{"[ERROR] plugin/errors: 2 a. A: refused", "[WARNING] plugin/k8s_event: event delivery: failed",
		"E1124 Unable to record event: too many queued events, dropped event"} {
		p.count(l)
	}
	if n, samples := p.take(); n != 2 || len(samples) != 2 {
		t.Errorf("take() = %d, %q; want the 2 lines not from the errors plugin", n, samples)
	}
	if n, _ := p.take(); n != 0 {
		t.Errorf("second take() = %d, want 0", n)
	}
}

func TestTable(t *testing.T) {
	tab := &table{}
	tab.add(row{measure: "m", on: "1", target: "≤ 2", met: check(true)})
	var b strings.Builder
	tab.print(&b)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[2], "| yes") || !strings.Contains(lines[2], "—") {
		t.Errorf("table:\n%s", b.String())
	}
}
