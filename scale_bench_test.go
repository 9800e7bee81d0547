package k8s_event

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	clog "github.com/coredns/coredns/plugin/pkg/log"
)

// scaleResult is what feeding one set of lines through the whole pipeline measured.
type scaleResult struct {
	lines    int
	retained uint64 // live heap after the lines, over the baseline before CoreDNS started
	writes   *writeCounter
	dropped  map[string]float64
	elapsed  time.Duration
	cpu      time.Duration
}

// runScale logs lines lines cycling through distinct distinct messages into an
// in-process CoreDNS with k8s_event at CACHESIZE cacheSize. The token buckets and the
// event correlator read a clock that moves a second at each reading, so every line is
// admitted and the correlator sees hours go by: its caches fill as in a long run. Lines
// go in chunks smaller than the hand-off queue, each chunk written before the next, so
// none is dropped. The live heap is read after the last write, with CoreDNS running.
func runScale(t testing.TB, cacheSize, distinct, lines int) scaleResult {
	client := newFake()
	wc := countWrites(client)
	opts := testOptions(client, true)
	opts.clock = &tickingClock{}
	usePipeline(t, opts)

	errorsLog := clog.NewWithPlugin("errors")
	before := readCounters()
	baseline := liveHeap()
	inst := startCoreDNS(t, corefile(fmt.Sprintf("k8s_event {\n rate 1 256 %d\n }", cacheSize)))
	cpu0, start := processCPU(), time.Now()

	const chunk = 128
	for sent := 0; sent < lines; {
		n := min(chunk, lines-sent)
		for i := range n {
			errorsLog.Errorf(floodMessage, (sent+i)%distinct)
		}
		sent += n
		waitProcessed(t, wc, before, sent)
		client.ClearActions() // the fake keeps every action it sees
	}
	elapsed, cpu := time.Since(start), processCPU()-cpu0
	retained := max(liveHeap(), baseline) - baseline
	stopCoreDNS(t, inst)
	return scaleResult{
		lines: lines, retained: retained, writes: wc,
		dropped: readCounters().since(before).dropped, elapsed: elapsed, cpu: cpu,
	}
}

// waitProcessed waits until sent lines have been written or dropped.
func waitProcessed(t testing.TB, wc *writeCounter, before pluginCounters, sent int) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		done := wc.total() + int64(readCounters().since(before).droppedTotal())
		if done >= int64(sent) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s, %d of %d lines written or dropped", done, sent)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// scaleCases are the (CACHESIZE, distinct messages) pairs: for each cache size, one
// message, as many messages as the cache has entries, and one message per line.
func scaleCases(caches []int, lines int) [][2]int {
	var cases [][2]int
	for _, c := range caches {
		ds := []int{1, min(c, lines), lines}
		slices.Sort(ds)
		for _, d := range slices.Compact(ds) {
			cases = append(cases, [2]int{c, d})
		}
	}
	return cases
}

func envInts(name string, def []int) []int {
	var out []int
	for _, f := range strings.Split(os.Getenv(name), ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return def
	}
	return out
}

// BenchmarkScale feeds K8S_EVENT_SCALE_LINES lines (default 10,000) through the whole
// pipeline for each CACHESIZE in K8S_EVENT_SCALE_CACHES (default 64,4096,65535) and
// each number of distinct messages from 1 to one per line. It runs once whatever b.N:
// run it with -benchtime 1x. Metrics: the live heap retained, and the writes.
func BenchmarkScale(b *testing.B) {
	lines := envInt("K8S_EVENT_SCALE_LINES", 10_000)
	for _, c := range scaleCases(envInts("K8S_EVENT_SCALE_CACHES", []int{64, 4096, 65535}), lines) {
		b.Run(fmt.Sprintf("cache=%d/distinct=%d", c[0], c[1]), func(b *testing.B) {
			r := runScale(b, c[0], c[1], lines)
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(float64(r.lines), "lines")
			b.ReportMetric(float64(r.retained)/(1<<20), "retained-MiB")
			b.ReportMetric(float64(r.writes.total()), "writes")
			b.ReportMetric(float64(r.writes.creates.Load()), "creates")
			b.ReportMetric(float64(r.elapsed.Nanoseconds())/float64(r.lines), "wall-ns/line")
			b.ReportMetric(float64(r.cpu.Nanoseconds())/float64(r.lines), "cpu-ns/line")
			for reason, v := range r.dropped {
				b.ReportMetric(v, "dropped-"+reason)
			}
		})
	}
}

// TestScaleBrief runs the scale benchmark small, so that it keeps working, and checks
// that every line became exactly one write.
func TestScaleBrief(t *testing.T) {
	for _, c := range scaleCases([]int{16}, 300) {
		t.Run(fmt.Sprintf("cache=%d/distinct=%d", c[0], c[1]), func(t *testing.T) {
			r := runScale(t, c[0], c[1], 300)
			if w := r.writes.total(); w != int64(r.lines) {
				t.Errorf("%d writes for %d admitted lines, want one each (dropped: %v)", w, r.lines, r.dropped)
			}
		})
	}
}
