package k8s_event

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	clog "github.com/coredns/coredns/plugin/pkg/log"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

// CACHESIZE bounds what the correlator remembers: with room for one event, a line
// repeated after another is a new Event; with the default, it raises the first one's Count.
func TestCacheSizeBoundsTheCorrelator(t *testing.T) {
	for _, c := range []struct {
		rate   string
		events int
	}{{"rate 1 10 1", 3}, {"rate 1 10", 2}} {
		t.Run(c.rate, func(t *testing.T) {
			p, _, client := newTestPipeline(t, "k8s_event {\n "+c.rate+"\n}")
			for _, msg := range []string{"A", "B", "A"} {
				p.listener.Error("plugin/errors: ", msg)
			}
			p.stop()
			if evs := events(t, client, testNS); len(evs) != c.events {
				t.Errorf("%d events, want %d: %s", len(evs), c.events, describe(evs))
			}
		})
	}
}

// A reload that changes CACHESIZE during an API outage: the lines logged before it and
// after it go out in the order they were logged, and one write at a time: the refused
// tries are at least the first backoff, a second, apart.
func TestCacheSizeChangeDuringAnOutageKeepsOrder(t *testing.T) {
	client := newFake()
	clk := clocktesting.NewFakeClock(time.Now())
	opts := testOptions(client, true)
	opts.clock = clk
	p := usePipeline(t, opts)
	api := apiOutage(client)
	var tries []time.Time // of writes refused, on the pipeline's clock
	client.PrependReactor("*", "events", func(k8stesting.Action) (bool, k8sruntime.Object, error) {
		if api.down.Load() {
			tries = append(tries, clk.Now()) // the fake runs one reactor at a time
		}
		return false, nil, nil
	})
	inst := startCoreDNS(t, corefile("k8s_event {\n rate 1 10 4096\n }"))
	for i := range 3 {
		errorsLog.Errorf("line %d", i)
	}
	stepFor(t, clk, time.Second, 5*time.Second)
	inst = reload(t, inst, corefile("k8s_event {\n rate 1 10 1024\n }"))
	defer stopCoreDNS(t, inst)
	for i := 3; i < 6; i++ {
		errorsLog.Errorf("line %d", i)
	}
	stepFor(t, clk, time.Second, 2*time.Minute)
	api.down.Store(false)
	stepUntilDone(t, clk, time.Second, func() bool { return p.backlog.pending() == 0 })

	for i := 1; i < len(tries); i++ {
		if d := tries[i].Sub(tries[i-1]); d < time.Second {
			t.Errorf("refused tries %d and %d %s apart, want at least a second: two writers at once", i-1, i, d)
		}
	}
	api.mu.Lock()
	defer api.mu.Unlock()
	if len(api.created) != 6 {
		t.Fatalf("%d events created, want 6: %s", len(api.created), describe(api.created))
	}
	for i, e := range api.created {
		if want := fmt.Sprintf("plugin/errors: line %d", i); e.Message != want {
			t.Errorf("write %d is %q, want %q: lines go out in the order they were logged", i, e.Message, want)
		}
	}
}

// ownLines is a log listener that keeps k8s_event's own warnings.
type ownLines struct {
	mu    sync.Mutex
	lines []string
}

func (*ownLines) Name() string                  { return "ownlines" }
func (*ownLines) Debug(string, ...any)          {}
func (*ownLines) Debugf(string, string, ...any) {}
func (*ownLines) Info(string, ...any)           {}
func (*ownLines) Infof(string, string, ...any)  {}
func (*ownLines) Warning(string, ...any)        {}
func (*ownLines) Error(string, ...any)          {}
func (*ownLines) Errorf(string, string, ...any) {}
func (*ownLines) Fatal(string, ...any)          {}
func (*ownLines) Fatalf(string, string, ...any) {}
func (o *ownLines) Warningf(prefix, format string, v ...any) {
	if prefix == selfPrefix {
		o.mu.Lock()
		o.lines = append(o.lines, fmt.Sprintf(format, v...))
		o.mu.Unlock()
	}
}

// CACHESIZE is a start-up setting: a reload that changes it says that it waits for the
// next restart, and the correlator keeps the size it started with.
func TestReloadChangingCacheSizeKeepsItUntilRestart(t *testing.T) {
	own := &ownLines{}
	clog.RegisterListener(own)
	t.Cleanup(func() { clog.DeregisterListener(own) })
	client := fakeAPI(t, true)
	inst := startCoreDNS(t, corefile("k8s_event {\n rate 1 10 1\n }"))
	inst = reload(t, inst, corefile("k8s_event {\n rate 1 10 4096\n }"))
	for _, msg := range []string{"A", "B", "A"} {
		errorsLog.Error(msg)
	}
	evs := stopAndList(t, inst, client)
	stopInstance(t, inst)
	if len(evs) != 3 {
		t.Errorf("%d events, want 3: the correlator keeps room for 1 until CoreDNS restarts; %s", len(evs), describe(evs))
	}
	own.mu.Lock()
	defer own.mu.Unlock()
	if len(own.lines) != 1 || !strings.Contains(own.lines[0], "CACHESIZE 4096 takes effect when CoreDNS restarts") {
		t.Errorf("k8s_event's warnings: %q, want one saying CACHESIZE 4096 waits for a restart", own.lines)
	}
}

// CACHESIZE is the number of distinct lines the correlator remembers: a written line
// takes one entry, whatever the source component the sink gives its Event, so that a
// repeat within CACHESIZE distinct lines raises the first Event's Count.
func TestCacheSizeCountsDistinctLines(t *testing.T) {
	for _, c := range []struct {
		size   int
		lines  []string
		events int
	}{{1, []string{"A", "A"}, 1}, {2, []string{"A", "B", "A"}, 2}} {
		t.Run(fmt.Sprint(c.lines), func(t *testing.T) {
			p, _, client := newTestPipeline(t, fmt.Sprintf("k8s_event {\n rate 1 10 %d\n}", c.size))
			for _, msg := range c.lines {
				p.listener.Error("plugin/errors: ", msg)
			}
			p.stop()
			evs := events(t, client, testNS)
			if len(evs) != c.events {
				t.Errorf("CACHESIZE %d, lines %v: %d events, want %d: %s", c.size, c.lines, len(evs), c.events, describe(evs))
			}
			if _, count := countMessage(evs, "plugin/errors: A"); count != 2 {
				t.Errorf("CACHESIZE %d, lines %v: line A counted %d times, want 2: %s", c.size, c.lines, count, describe(evs))
			}
		})
	}
}
