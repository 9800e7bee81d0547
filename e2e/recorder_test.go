package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
)

// recordEvery is the interval of a recording's samples: one scrape of CoreDNS's /metrics
// each.
const recordEvery = time.Second

// recordTail is how long a recording goes on after its test ended.
const recordTail = 5 * recordEvery

// recordPrefix selects the series a recording keeps: the plugin's.
const recordPrefix = "coredns_k8s_event_"

// recorder scrapes CoreDNS's /metrics every recordEvery while a scenario runs, for the
// alert rules' tests (deploy/monitoring): their input series are what a real run showed.
// It writes the recording when the test ends, into $K8S_EVENT_RECORDINGS (make e2e sets
// it) or else a temporary directory, and checks that the file has the shape those tests
// read: every series a counter that never falls, the marks within the recording.
type recorder struct {
	name, about string
	stop, done  chan struct{}
	stopOnce    sync.Once

	mu      sync.Mutex
	samples []devenv.Metrics // nil where a scrape failed
	marks   map[string]int   // sample index of a moment of the scenario
	errs    []error
}

// recordMetrics starts recording the metrics CoreDNS serves at addr under name; about
// says what the scenario is. It stops and writes the recording when t ends (before
// CoreDNS stops, as it was started after it).
func recordMetrics(t *testing.T, addr, name, about string) *recorder {
	r := &recorder{name: name, about: about, stop: make(chan struct{}), done: make(chan struct{}), marks: map[string]int{}}
	go r.run(addr)
	t.Cleanup(func() {
		// The last writes a test waited for are counted right after they return:
		// a few more samples hold them.
		select {
		case <-r.done:
		case <-time.After(recordTail):
		}
		r.finish()
		r.write(t)
	})
	return r
}

// finish stops the scrapes; a test that stops CoreDNS itself calls it first.
func (r *recorder) finish() {
	r.stopOnce.Do(func() { close(r.stop) })
	<-r.done
}

func (r *recorder) run(addr string) {
	defer close(r.done)
	tick := time.NewTicker(recordEvery)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), recordEvery)
		m, err := devenv.ScrapeMetrics(ctx, addr)
		cancel()
		r.mu.Lock()
		if err != nil {
			r.errs = append(r.errs, err)
			m = nil
		}
		r.samples = append(r.samples, m)
		r.mu.Unlock()
		select {
		case <-r.stop:
			return
		case <-tick.C:
		}
	}
}

// mark names the moment of the latest sample: the alert tests evaluate relative to it.
func (r *recorder) mark(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.marks[name] = max(len(r.samples)-1, 0)
}

// write writes the recording and checks its shape.
func (r *recorder) write(t *testing.T) {
	dir := os.Getenv("K8S_EVENT_RECORDINGS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) > 0 {
		t.Errorf("recording %s: %d of %d scrapes failed, the first: %v", r.name, len(r.errs), len(r.samples), r.errs[0])
	}
	names := map[string]bool{}
	for _, m := range r.samples {
		for k := range m {
			if strings.HasPrefix(k, recordPrefix) {
				names[k] = true
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Recorded by the end-to-end tests (e2e/recorder_test.go): %s.\n", r.about)
	fmt.Fprintf(&b, "# CoreDNS's /metrics, the plugin's series, one scrape every %v (_: not exported yet).\n", recordEvery)
	fmt.Fprintf(&b, "# make e2e records it again into .build/recordings.\n")
	fmt.Fprintf(&b, "scenario: %s\ninterval: %v\nsamples: %d\nmarks:\n", r.name, recordEvery, len(r.samples))
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range r.marks {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Fprintf(&b, "  %s: %d\n", k, r.marks[k])
		if r.marks[k] >= len(r.samples) || len(r.samples) == 0 {
			t.Errorf("recording %s: mark %s at sample %d of %d", r.name, k, r.marks[k], len(r.samples))
		}
	}
	b.WriteString("series:\n")
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range names {
			if !yield(k) {
				return
			}
		}
	}) {
		vals := make([]string, len(r.samples))
		last := 0.0
		for i, m := range r.samples {
			v, ok := m[k]
			if !ok {
				vals[i] = "_"
				continue
			}
			if v < last {
				t.Errorf("recording %s: counter %s fell from %v to %v at sample %d", r.name, k, last, v, i)
			}
			last = v
			vals[i] = strconv.FormatFloat(v, 'f', -1, 64)
		}
		fmt.Fprintf(&b, "- series: '%s'\n  values: %s\n", k, strings.Join(vals, " "))
	}
	if len(names) == 0 {
		t.Errorf("recording %s: no %s series in %d scrapes", r.name, recordPrefix, len(r.samples))
	}
	path := filepath.Join(dir, r.name+".yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recording %s: %d samples of %d series in %s", r.name, len(r.samples), len(names), path)
}
