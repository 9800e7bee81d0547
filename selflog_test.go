package k8s_event

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
)

// printed collects what a selfLog prints.
type printed struct {
	mu    sync.Mutex
	lines []string
}

func (p *printed) print(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lines = append(p.lines, msg)
}

func (p *printed) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

func TestSelfLogHoldsBackRepeats(t *testing.T) {
	var out printed
	now := time.Unix(0, 0)
	l := newSelfLog(time.Minute)
	l.now = func() time.Time { return now }
	l.print = out.print
	logger := l.logger()

	forbidden := errors.New(`events is forbidden: User "system:serviceaccount:kube-system:coredns" cannot create resource "events"`)
	for range 1000 {
		logger.Error(forbidden, "Server rejected event (will not retry!)", "event", "a large object")
		logger.Info("Warning: events are audited")
	}
	logger.V(5).Info("verbose lines are not printed")
	want := []string{
		"event delivery: Server rejected event (will not retry!): " + forbidden.Error(),
		"kubernetes client: Warning: events are audited",
	}
	if got := out.all(); !slices.Equal(got, want) {
		t.Fatalf("printed %q for 2000 messages of 2 kinds within a minute, want the first of each: %q", got, want)
	}
	now = now.Add(time.Minute)
	logger.Info("Warning: events are audited")
	if got := out.all(); len(got) != 3 || got[2] != "kubernetes client: Warning: events are audited (999 similar messages held back in the last 1m0s)" {
		t.Errorf("after a minute, want one line with the count held back, got %q", got)
	}
}

// A message's kind is the one its caller names, whatever its format and arguments:
// messages of one kind are held back together, and a message of another kind is
// printed though its text begins as theirs.
func TestSelfLogKindIsTheCallers(t *testing.T) {
	var out printed
	l := newSelfLog(time.Minute)
	l.print = out.print
	for i := range 100 {
		l.printf(kindIdentity, "%s or %s is not set: reporting on namespace %q", fmt.Sprint("A", i), "B", "default")
		l.printf(kindIdentity, "another text: %d", i)
	}
	l.printf(kindDropped, "%s or %s is not set: reporting on namespace %q", "A", "B", "default")
	want := []string{`A0 or B is not set: reporting on namespace "default"`, `A or B is not set: reporting on namespace "default"`}
	if got := out.all(); !slices.Equal(got, want) {
		t.Errorf("printed %q for 200 messages of one kind then one of another within a minute, want %q", got, want)
	}
}

// TestAPIWarningsStayInThePluginsLog writes events to an API server that answers every
// write with a Warning header, as a ValidatingAdmissionPolicy in Warn mode does: the
// warning is printed under plugin/k8s_event and never reaches global klog, which the
// kubernetes plugin turns into plugin/kubernetes log lines, and so events.
func TestAPIWarningsStayInThePluginsLog(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Warning", `299 - "events are audited"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Write(body)
	}))
	defer api.Close()
	client, err := kubernetes.NewForConfig(&rest.Config{Host: api.URL})
	if err != nil {
		t.Fatal(err)
	}
	var global printed
	klog.SetLogger(funcr.New(func(prefix, args string) { global.print(prefix + args) }, funcr.Options{}))
	defer klog.ClearLogger()

	var out printed
	opts := testOptions(client, true)
	opts.log = newSelfLog(time.Minute)
	opts.log.print = out.print
	p := startPipeline(t, opts, client, "k8s_event")

	p.listener.Error("plugin/errors: ", "upstream down")
	p.listener.Fatal("plugin/loop: ", "Loop detected")
	p.stop()

	if got := out.all(); len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), "Warning: events are audited") {
		t.Errorf("the plugin printed %q, want the API's warning", got)
	}
	for _, line := range global.all() {
		if strings.Contains(line, "audited") {
			t.Errorf("global klog got %q: the kubernetes plugin would log it, and it would be reported", line)
		}
	}
}
