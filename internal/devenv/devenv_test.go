package devenv

import (
	"bufio"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPercentileAndMedian(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i))
	}
	for q, want := range map[float64]time.Duration{0: 1, 0.5: 50, 0.99: 99, 1: 100} {
		if got := Percentile(d, q); got != want {
			t.Errorf("Percentile(1..100, %v) = %v, want %v", q, got, want)
		}
	}
	if d[0] != 100 || Percentile([]int(nil), 0.5) != 0 {
		t.Errorf("Percentile changed its input or answered for no values")
	}
	if Median([]float64{3, 1, 2}) != 2 || Median([]float64{4, 1, 2, 3}) != 2.5 {
		t.Errorf("Median: %v, %v", Median([]float64{3, 1, 2}), Median([]float64{4, 1, 2, 3}))
	}
}

func TestParseMetrics(t *testing.T) {
	m, err := parseMetrics(bufio.NewScanner(strings.NewReader(`# HELP x y
coredns_k8s_event_dropped_total{reason="queue_full"} 2
coredns_k8s_event_dropped_total{reason="rate_limited"} 3
coredns_k8s_event_api_writes_total{result="error",verb="create"} 1
`)))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Sum("coredns_k8s_event_dropped_total"); got != 5 {
		t.Errorf("Sum = %v, want 5", got)
	}
	if got := m.Get("coredns_k8s_event_api_writes_total", "result", "error", "verb", "create"); got != 1 {
		t.Errorf("Get = %v, want 1", got)
	}
	if _, err := parseMetrics(bufio.NewScanner(strings.NewReader("x{} notanumber\n"))); err == nil {
		t.Error("a bad value parsed")
	}
}

func TestLineBuffer(t *testing.T) {
	var echoed []string
	b := lineBuffer{keep: 2, echo: func(l string) { echoed = append(echoed, l) }}
	b.Write([]byte("one\ntw"))
	b.Write([]byte("o\nthree\nfour\nfive\nsix"))
	if got := b.lines(); !slices.Equal(got, []string{"four", "five"}) {
		t.Errorf("lines() = %q, want the last 2 complete lines", got)
	}
	if !slices.Equal(echoed, []string{"one", "two", "three", "four", "five"}) {
		t.Errorf("echoed %q", echoed)
	}
}

func TestFreePort(t *testing.T) {
	seen := map[int]bool{}
	for range 20 {
		p, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if seen[p] || p < lowestPort || p >= ephemeralLower() {
			t.Fatalf("port %d: given twice, or outside [%d, %d)", p, lowestPort, ephemeralLower())
		}
		seen[p] = true
		l, err := net.ListenPacket("udp", Loopback(p))
		if err != nil {
			t.Fatalf("port %d not free: %v", p, err)
		}
		l.Close()
	}
}
