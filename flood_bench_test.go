package k8s_event

import (
	"bytes"
	"encoding/json"
	golog "log"
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

// This file holds BenchmarkFlood and what it shares with BenchmarkScale: a fake Events
// API that counts writes without keeping them, readings of the plugin's counters, of
// process CPU time and of the heap. `make bench` runs the benchmarks at full size;
// TestFloodBrief and TestScaleBrief run them small under `make test` and check what must
// hold at any size, never a timing.

// floodStanza is k8s_event at the highest rate it accepts (QPS 1, burst 256): the most
// events, the most work behind the token bucket.
const floodStanza = "k8s_event {\n rate 1 256\n }"

// floodMessage is the errors plugin's line for a failed upstream query; every line of
// a flood is distinct by its number.
const floodMessage = "%d example.org. A: read udp 127.0.0.1:53->127.0.0.1:9: i/o timeout"

// writeCounter counts the Events API writes of a fake client and answers as the API
// server would, storing nothing: memory measured behind it is the plugin's and
// client-go's. A patch is answered with the event it describes, from the first created
// event, so that the correlator sees the names, counts and messages a server returns.
type writeCounter struct {
	creates, patches, updates atomic.Int64
	template                  atomic.Pointer[corev1.Event]
}

func countWrites(client *fake.Clientset) *writeCounter {
	wc := &writeCounter{}
	client.PrependReactor("create", "events", func(a k8stesting.Action) (bool, k8sruntime.Object, error) {
		ev := a.(k8stesting.CreateAction).GetObject().(*corev1.Event).DeepCopy()
		wc.template.CompareAndSwap(nil, ev.DeepCopy())
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
		ev := wc.template.Load().DeepCopy()
		ev.Name, ev.Namespace, ev.Count, ev.Message, ev.LastTimestamp = pa.GetName(), pa.GetNamespace(), p.Count, p.Message, p.LastTimestamp
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

// pluginCounters is a reading of the plugin's counters in the default registry: the
// lines selected (lines_total, all levels) and the lines dropped, by reason.
type pluginCounters struct {
	selected float64
	dropped  map[string]float64
}

func readCounters() pluginCounters {
	c := pluginCounters{dropped: map[string]float64{}}
	families, _ := prometheus.DefaultGatherer.Gather()
	for _, f := range families {
		for _, m := range f.GetMetric() {
			switch f.GetName() {
			case "coredns_k8s_event_lines_total":
				c.selected += m.GetCounter().GetValue()
			case "coredns_k8s_event_dropped_total":
				c.dropped[m.GetLabel()[0].GetValue()] += m.GetCounter().GetValue()
			}
		}
	}
	return c
}

// since is what the counters gained since before.
func (c pluginCounters) since(before pluginCounters) pluginCounters {
	d := pluginCounters{selected: c.selected - before.selected, dropped: map[string]float64{}}
	for r, v := range c.dropped {
		d.dropped[r] = v - before.dropped[r]
	}
	return d
}

// droppedTotal adds up the drops of every reason.
func (c pluginCounters) droppedTotal() float64 {
	n := 0.0
	for _, v := range c.dropped {
		n += v
	}
	return n
}

// processCPU is the user and system CPU time of the whole process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
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

// samplePeakHeap records, every 5 ms until stop is called, the peaks of the live heap
// (as of each collection) and of all heap objects, garbage included.
func samplePeakHeap() (stop func() (peakLive, peakHeap uint64)) {
	done, quit := make(chan struct{}), make(chan struct{})
	var live, heap uint64
	go func() {
		defer close(done)
		s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
		for tick := time.NewTicker(5 * time.Millisecond); ; {
			metrics.Read(s)
			live, heap = max(live, s[0].Value.Uint64()), max(heap, s[1].Value.Uint64())
			select {
			case <-tick.C:
			case <-quit:
				tick.Stop()
				return
			}
		}
	}()
	return func() (uint64, uint64) { close(quit); <-done; return live, heap }
}

// outputCounter counts the lines CoreDNS's log and klog print, and those of them from
// this plugin or client-go's event pipeline rather than the logged line itself.
type outputCounter struct {
	mu             sync.Mutex
	lines, plugin  int
	pluginExamples []string
}

func (o *outputCounter) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := max(1, bytes.Count(p, []byte{'\n'}))
	o.lines += n
	if bytes.Contains(p, []byte(pluginName)) || bytes.Contains(p, []byte("dropped event")) {
		o.plugin += n
		if len(o.pluginExamples) < 3 {
			o.pluginExamples = append(o.pluginExamples, string(bytes.TrimSpace(p)))
		}
	}
	return len(p), nil
}

// captureOutput points CoreDNS's log output and klog at a counter until the test ends.
// CoreDNS's plugin loggers print through the standard library's logger in every supported
// version; clog.SetOutput, new in CoreDNS 1.15, sets that same logger's output unless
// JSON logging is configured, which these tests never do.
func captureOutput(t testing.TB) *outputCounter {
	o := &outputCounter{}
	golog.SetOutput(o)
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
	lines              int64         // lines logged
	elapsed            time.Duration // logging time
	cpu                time.Duration // process CPU from the first line until the plugin stopped
	peakLive, peakHeap uint64        // growth over the baseline, at its peak
	writes             *writeCounter
	bound              int64 // most writes the rate settings allow over the reporter's lifetime
	counters           pluginCounters
	out                *outputCounter
}

// runFlood logs rate lines per second for dur through the errors plugin's logger into
// an in-process CoreDNS whose server block has the given k8s_event stanza (none when
// empty), from one goroutine per P, as concurrent queries would.
func runFlood(t testing.TB, stanza string, rate int, dur time.Duration) floodResult {
	client := newFake()
	r := floodResult{writes: countWrites(client)}
	usePipeline(t, testOptions(client, true))
	r.out = captureOutput(t)

	before, baseline, started := readCounters(), liveHeap(), time.Now()
	inst := startCoreDNS(t, corefile(stanza))
	peaks, cpu0 := samplePeakHeap(), processCPU()
	r.lines, r.elapsed = flood(rate, dur)
	ended := time.Now()
	stopCoreDNS(t, inst)
	r.cpu = processCPU() - cpu0
	peakLive, peakHeap := peaks()
	r.peakLive, r.peakHeap = max(peakLive, baseline)-baseline, max(peakHeap, baseline)-baseline
	r.counters = readCounters().since(before)
	if stanza != "" {
		// Every flood line is an error, so a Warning event: one token bucket.
		r.bound = 256 + int64(math.Ceil(ended.Sub(started).Seconds()))
	}
	return r
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
		spawn(&wg, func() {
			for sent := int64(0); time.Since(start) < dur; time.Sleep(time.Millisecond) {
				for due := int64(float64(rate) / float64(workers) * time.Since(start).Seconds()); sent < due; sent++ {
					errorsLog.Errorf(floodMessage, next.Add(1))
				}
			}
		})
	}
	wg.Wait()
	return next.Load(), time.Since(start)
}

// envInt reads a benchmark size from the environment.
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
	dur, err := time.ParseDuration(os.Getenv("K8S_EVENT_FLOOD_DURATION"))
	if err != nil {
		dur = time.Second
	}
	for _, c := range []struct{ name, stanza string }{{"off", ""}, {"on", floodStanza}} {
		b.Run(c.name, func(b *testing.B) {
			r := runFlood(b, c.stanza, rate, dur)
			for unit, v := range map[string]float64{
				"ns/op": 0, "lines": float64(r.lines), "lines/s": float64(r.lines) / r.elapsed.Seconds(),
				"cpu-ns/line":   float64(r.cpu.Nanoseconds()) / float64(r.lines),
				"peak-live-MiB": float64(r.peakLive) / (1 << 20), "peak-heap-MiB": float64(r.peakHeap) / (1 << 20),
				"writes": float64(r.writes.total()), "creates": float64(r.writes.creates.Load()), "write-bound": float64(r.bound),
				"selected": r.counters.selected, "out-lines": float64(r.out.lines), "plugin-out-lines": float64(r.out.plugin),
			} {
				b.ReportMetric(v, unit)
			}
			for reason, v := range r.counters.dropped {
				b.ReportMetric(v, "dropped-"+reason)
			}
			for _, s := range r.out.pluginExamples {
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
	if w := r.writes.total(); r.lines == 0 || w > r.bound || w == 0 {
		t.Errorf("%d lines logged, %d event writes: want some of both, and the writes within the bound %d", r.lines, w, r.bound)
	}
	if r.counters.selected != float64(r.lines) || float64(r.writes.total())+r.counters.droppedTotal() != r.counters.selected {
		t.Errorf("%d lines logged, %v selected, %d written, dropped %v: want every line selected, then written or dropped",
			r.lines, r.counters.selected, r.writes.total(), r.counters.dropped)
	}
	if r.out.plugin > 1 {
		t.Errorf("%d lines printed by the plugin during the flood, want at most one; first: %q", r.out.plugin, r.out.pluginExamples)
	}
}
