package k8s_event

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/klog/v2"
)

// This file holds BenchmarkFlood and the helpers it shares with BenchmarkScale: a sink
// that counts Events API writes without keeping what is written, readings of the
// plugin's counters, of process CPU time and of the heap, and a writer counting the
// lines the process prints. `make bench` runs the benchmarks at full size; the Test
// functions run them briefly under `make test` and check what must hold at any size,
// never a timing.

// floodStanza is k8s_event at the highest rate it accepts: the most events, the most
// work behind the token bucket.
const floodStanza = "k8s_event {\n rate 1 256\n }"

// Flood rate settings as floodStanza gives them, for the bound on writes.
const (
	floodQPS   = 1.0
	floodBurst = 256
)

// floodMessage is the errors plugin's line for a failed upstream query; every line of
// a flood is distinct by its number.
const floodMessage = "%d example.org. A: read udp 127.0.0.1:53->127.0.0.1:9: i/o timeout"

// writeCounter is an Events API that counts writes and answers as the API server
// would, without storing anything: memory measured behind it is the plugin's and
// client-go's, not the fake's. Patches are answered with the event they describe,
// built from the patch and the first created event's fixed fields, so the event
// correlator sees the names, counts and messages it would see from a server.
type writeCounter struct {
	creates, patches, updates atomic.Int64

	mu       sync.Mutex
	template *corev1.Event
}

func countWrites(client *fake.Clientset) *writeCounter {
	wc := &writeCounter{}
	client.PrependReactor("create", "events", func(a k8stesting.Action) (bool, k8sruntime.Object, error) {
		ev := a.(k8stesting.CreateAction).GetObject().(*corev1.Event).DeepCopy()
		wc.mu.Lock()
		if wc.template == nil {
			wc.template = ev.DeepCopy()
		}
		wc.mu.Unlock()
		wc.creates.Add(1)
		return true, ev, nil
	})
	client.PrependReactor("patch", "events", func(a k8stesting.Action) (bool, k8sruntime.Object, error) {
		pa := a.(k8stesting.PatchAction)
		var p struct {
			Count         int32       `json:"count"`
			Message       string      `json:"message"`
			LastTimestamp metav1.Time `json:"lastTimestamp"`
		}
		if err := json.Unmarshal(pa.GetPatch(), &p); err != nil {
			return true, nil, err
		}
		wc.mu.Lock()
		ev := wc.template.DeepCopy()
		wc.mu.Unlock()
		ev.Name, ev.Namespace = pa.GetName(), pa.GetNamespace()
		ev.Count, ev.Message, ev.LastTimestamp = p.Count, p.Message, p.LastTimestamp
		wc.patches.Add(1)
		return true, ev, nil
	})
	client.PrependReactor("update", "events", func(a k8stesting.Action) (bool, k8sruntime.Object, error) {
		wc.updates.Add(1)
		return true, a.(k8stesting.UpdateAction).GetObject().(*corev1.Event).DeepCopy(), nil
	})
	return wc
}

func (wc *writeCounter) total() int64 {
	return wc.creates.Load() + wc.patches.Load() + wc.updates.Load()
}

// counterValues reads a counter vector of the default registry by its one label.
func counterValues(name string) map[string]float64 {
	values := map[string]float64{}
	families, _ := prometheus.DefaultGatherer.Gather()
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			label := ""
			if len(m.GetLabel()) > 0 {
				label = m.GetLabel()[0].GetValue()
			}
			values[label] = m.GetCounter().GetValue()
		}
	}
	return values
}

// dropReasons are the label values of coredns_k8s_event_dropped_total.
var dropReasons = []string{dropRateLimited, dropQueueFull, dropRejected, dropRetriesExhausted, dropShutdown}

// pluginCounters is a reading of the plugin's line and drop counters.
type pluginCounters struct {
	selected float64 // lines_total, all levels
	dropped  map[string]float64
}

func readCounters() pluginCounters {
	c := pluginCounters{dropped: counterValues("coredns_k8s_event_dropped_total")}
	for _, v := range counterValues("coredns_k8s_event_lines_total") {
		c.selected += v
	}
	return c
}

func (c pluginCounters) since(before pluginCounters) pluginCounters {
	d := pluginCounters{selected: c.selected - before.selected, dropped: map[string]float64{}}
	for _, r := range dropReasons {
		d.dropped[r] = c.dropped[r] - before.dropped[r]
	}
	return d
}

// processCPU is the user and system CPU time of the whole process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// liveHeap collects twice and returns the heap the collector found live.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// heapSampler records the peaks of the live heap (as of each collection) and of all
// heap objects (live or not yet collected) while it runs.
type heapSampler struct {
	stop     chan struct{}
	done     chan struct{}
	peakLive uint64
	peakHeap uint64
}

func sampleHeap(every time.Duration) *heapSampler {
	h := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			metrics.Read(s)
			h.peakLive = max(h.peakLive, s[0].Value.Uint64())
			h.peakHeap = max(h.peakHeap, s[1].Value.Uint64())
			select {
			case <-tick.C:
			case <-h.stop:
				return
			}
		}
	}()
	return h
}

func (h *heapSampler) end() (peakLive, peakHeap uint64) {
	close(h.stop)
	<-h.done
	return h.peakLive, h.peakHeap
}

// outputCounter counts the lines written to CoreDNS's log output and klog, and those of
// them that come from this plugin or from client-go's event pipeline rather than from
// the logged line itself.
type outputCounter struct {
	mu      sync.Mutex
	lines   int
	plugin  int
	samples []string
}

func (o *outputCounter) Write(p []byte) (int, error) {
	n := bytes.Count(p, []byte{'\n'})
	if n == 0 {
		n = 1
	}
	own := bytes.Contains(p, []byte(pluginName)) || bytes.Contains(p, []byte("dropped event"))
	o.mu.Lock()
	o.lines += n
	if own {
		o.plugin += n
		if len(o.samples) < 3 {
			o.samples = append(o.samples, string(bytes.TrimSpace(p)))
		}
	}
	o.mu.Unlock()
	return len(p), nil
}

func (o *outputCounter) counts() (lines, plugin int, samples []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lines, o.plugin, append([]string(nil), o.samples...)
}

// captureOutput points CoreDNS's log output and klog at a counter until the test ends.
func captureOutput(t testing.TB) *outputCounter {
	o := &outputCounter{}
	clog.SetOutput(o)
	klog.LogToStderr(false)
	klog.SetOutput(o)
	t.Cleanup(func() {
		clog.Discard()
		klog.SetOutput(os.Stderr)
		klog.LogToStderr(true)
	})
	return o
}

// floodResult is what one flood measured.
type floodResult struct {
	lines       int64         // lines logged
	elapsed     time.Duration // logging time
	cpu         time.Duration // process CPU from the first line until the plugin stopped
	peakLive    uint64        // growth of the live heap over the baseline, at its peak
	peakHeap    uint64        // growth of all heap objects over the baseline, at its peak
	writes      *writeCounter
	bound       int64 // most writes the rate settings allow over the reporter's lifetime
	counters    pluginCounters
	outLines    int // lines printed, the logged lines included
	pluginLines int // lines printed by the plugin or client-go's event pipeline
	samples     []string
}

// runFlood logs rate lines per second for dur through the errors plugin's logger into
// an in-process CoreDNS whose server block has the given k8s_event stanza (none when
// empty), from as many goroutines as there are Ps, as concurrent queries would.
func runFlood(t testing.TB, stanza string, rate int, dur time.Duration) floodResult {
	client := newFake()
	wc := countWrites(client)
	usePipeline(t, testOptions(client, true))
	out := captureOutput(t)

	before := readCounters()
	baseline := liveHeap()
	started := time.Now()
	inst := startCoreDNS(t, corefile(stanza))
	sampler := sampleHeap(5 * time.Millisecond)
	cpu0 := processCPU()

	lines, elapsed := flood(rate, dur)
	ended := time.Now()

	stopCoreDNS(t, inst)
	cpu := processCPU() - cpu0
	peakLive, peakHeap := sampler.end()
	outLines, pluginLines, samples := out.counts()

	r := floodResult{
		lines: lines, elapsed: elapsed, cpu: cpu,
		peakLive: sub(peakLive, baseline), peakHeap: sub(peakHeap, baseline),
		writes:   wc,
		counters: readCounters().since(before),
		outLines: outLines, pluginLines: pluginLines, samples: samples,
	}
	if stanza != "" {
		// Every flood line is an error, so a Warning event: one token bucket.
		r.bound = floodBurst + int64(math.Ceil(floodQPS*ended.Sub(started).Seconds()))
	}
	return r
}

func sub(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

// flood logs about rate lines per second for dur, each line distinct, from one
// goroutine per P, and returns how many it logged and how long that took.
func flood(rate int, dur time.Duration) (int64, time.Duration) {
	errorsLog := clog.NewWithPlugin("errors")
	workers := runtime.GOMAXPROCS(0)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			perWorker := float64(rate) / float64(workers)
			var sent int64
			for {
				elapsed := time.Since(start)
				if elapsed >= dur {
					return
				}
				due := int64(perWorker * elapsed.Seconds())
				for ; sent < due; sent++ {
					errorsLog.Errorf(floodMessage, next.Add(1))
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	wg.Wait()
	return next.Load(), time.Since(start)
}

// envDuration and envInt read a benchmark size from the environment.
func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkFlood logs K8S_EVENT_FLOOD_RATE lines per second (default 100,000) for
// K8S_EVENT_FLOOD_DURATION (default 1s) through the real CoreDNS plugin logger, with
// k8s_event (on) and without (off). It runs once whatever b.N: run it with -benchtime 1x.
// Metrics per case: process CPU per line, peak heap growth, event writes against the
// bound the rate settings allow, lines dropped by reason and lines printed.
func BenchmarkFlood(b *testing.B) {
	rate := envInt("K8S_EVENT_FLOOD_RATE", 100_000)
	dur := envDuration("K8S_EVENT_FLOOD_DURATION", time.Second)
	for _, c := range []struct{ name, stanza string }{{"off", ""}, {"on", floodStanza}} {
		b.Run(c.name, func(b *testing.B) {
			r := runFlood(b, c.stanza, rate, dur)
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(float64(r.lines), "lines")
			b.ReportMetric(float64(r.lines)/r.elapsed.Seconds(), "lines/s")
			b.ReportMetric(float64(r.cpu.Nanoseconds())/float64(r.lines), "cpu-ns/line")
			b.ReportMetric(float64(r.peakLive)/(1<<20), "peak-live-MiB")
			b.ReportMetric(float64(r.peakHeap)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(r.writes.total()), "writes")
			b.ReportMetric(float64(r.writes.creates.Load()), "creates")
			b.ReportMetric(float64(r.bound), "write-bound")
			b.ReportMetric(r.counters.selected, "selected")
			for _, reason := range dropReasons {
				b.ReportMetric(r.counters.dropped[reason], "dropped-"+reason)
			}
			b.ReportMetric(float64(r.outLines), "out-lines")
			b.ReportMetric(float64(r.pluginLines), "plugin-out-lines")
			for _, s := range r.samples {
				b.Logf("printed: %s", s)
			}
		})
	}
}

// TestFloodBrief runs the flood for a moment, so that the benchmark keeps working, and
// checks what holds at any rate: the writes stay within the rate settings' bound, every
// selected line is either written or counted as dropped, and nothing is printed per line.
func TestFloodBrief(t *testing.T) {
	r := runFlood(t, floodStanza, 20_000, 300*time.Millisecond)
	if r.lines == 0 {
		t.Fatal("the flood logged no line")
	}
	if w := r.writes.total(); w > r.bound || w == 0 {
		t.Errorf("%d event writes, want between 1 and the bound %d", w, r.bound)
	}
	if r.counters.selected != float64(r.lines) {
		t.Errorf("%v lines selected, want the %d logged", r.counters.selected, r.lines)
	}
	var dropped float64
	for _, v := range r.counters.dropped {
		dropped += v
	}
	if got := float64(r.writes.total()) + dropped; got != r.counters.selected {
		t.Errorf("%d writes + %v dropped (%v) = %v, want every one of the %v selected lines", r.writes.total(), dropped, r.counters.dropped, got, r.counters.selected)
	}
	if r.pluginLines > 1 {
		t.Errorf("%d lines printed by the plugin during the flood, want at most one; first: %q", r.pluginLines, r.samples)
	}
}
