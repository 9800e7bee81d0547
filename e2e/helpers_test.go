package e2e

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	"github.com/miekg/dns"
)

// The helpers of this file fail the test instead of returning an error.

const outputTailSize = 150 // lines of CoreDNS output printed when a test fails

// startCoreDNS runs ./coredns on corefile with env and waits until it serves. It is
// stopped when the test ends, and its output printed if the test failed.
func startCoreDNS(t *testing.T, corefile string, env ...string) *devenv.CoreDNS {
	t.Helper()
	defer startSlots.acquire(t, false)()
	c := launchCoreDNS(t, corefile, env...)
	setUp(t, "CoreDNS serving (its start-up banner)", c.WaitReady)
	return c
}

// startFailingUpstream starts ./coredns with env and waits until it serves: errors and a
// forward to a dead upstream, so that every query logs an error line, kubeapi as cl's
// coredns ServiceAccount, and directives (k8s_event's among them). It returns the server
// and its DNS address.
func startFailingUpstream(t *testing.T, cl *cluster, env []string, directives ...string) (*devenv.CoreDNS, string) {
	t.Helper()
	addr := freeAddr(t)
	directives = append([]string{"errors", failingForward(t), cl.kubeapi()}, directives...)
	return startCoreDNS(t, serverBlock(rootZone(addr), directives...), env...), addr
}

// launchCoreDNS starts ./coredns without waiting for it to serve.
func launchCoreDNS(t *testing.T, corefile string, env ...string) *devenv.CoreDNS {
	t.Helper()
	requireSuite(t)
	c, err := devenv.StartCoreDNS(devenv.CoreDNSOptions{Binary: suite.paths.CoreDNS, Corefile: corefile, Dir: t.TempDir(), Env: env})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stopping CoreDNS: %v", err)
		}
		if t.Failed() {
			t.Logf("Corefile:\n%s\nCoreDNS output (last %d lines):\n%s", corefile, outputTailSize, c.Tail(outputTailSize))
		}
	})
	return c
}

// reload replaces CoreDNS's Corefile and has it reload now (SIGUSR1); it returns once
// CoreDNS has the signal.
func reload(t *testing.T, c *devenv.CoreDNS, corefile string) {
	t.Helper()
	if err := c.Reload(timeout(t, reloadTimeout), corefile); err != nil {
		t.Fatal(err)
	}
}

// timeout is a context that ends after d, or when the test has ended. It works in
// t.Cleanup too, unlike t.Context.
func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitOutput waits until cond holds for CoreDNS's output, for at most d.
func waitOutput(t *testing.T, c *devenv.CoreDNS, d time.Duration, what string, cond func(lines []string) bool) {
	t.Helper()
	if err := c.WaitOutput(timeout(t, d), what, cond); err != nil {
		t.Fatal(err)
	}
}

// waitLine waits for a line match accepts, for at most d, and returns it.
func waitLine(t *testing.T, c *devenv.CoreDNS, d time.Duration, what string, match func(string) bool) string {
	t.Helper()
	l, err := c.WaitLine(timeout(t, d), what, match)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// loggedMessage finds the line CoreDNS printed at this level tag ("ERROR", "INFO", ...)
// that contains substr, and returns what follows the tag: the event message.
func loggedMessage(t *testing.T, c *devenv.CoreDNS, tag, substr string) string {
	t.Helper()
	prefix := "[" + tag + "] "
	line := waitLine(t, c, 10*time.Second, fmt.Sprintf("a %s line containing %q", prefix, substr), func(l string) bool {
		return strings.HasPrefix(l, prefix) && strings.Contains(l, substr)
	})
	return strings.TrimPrefix(line, prefix)
}

// countLines counts the lines containing both prefix and substr.
func countLines(lines []string, prefix, substr string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, prefix) && strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

// eventually polls cond until it holds, failing the test after d with what and the
// last state cond described.
func eventually(t *testing.T, d time.Duration, what string, cond func() (ok bool, state string)) {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(100 * time.Millisecond) {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s (last: %s)", d, what, state)
		}
	}
}

// freeAddr is a loopback address on a free port.
func freeAddr(t *testing.T) string {
	t.Helper()
	p, err := devenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return devenv.Loopback(p)
}

// scrape reads the metrics the prometheus plugin serves at addr.
func scrape(t *testing.T, addr string) devenv.Metrics {
	t.Helper()
	m, err := devenv.ScrapeMetrics(timeout(t, 10*time.Second), addr)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The plugin's metrics.
const (
	metricLines   = "coredns_k8s_event_lines_total"
	metricDropped = "coredns_k8s_event_dropped_total"
	metricWrites  = "coredns_k8s_event_api_writes_total"
)

// failedWrites is the number of Events API writes that failed, all verbs together.
func failedWrites(m devenv.Metrics) float64 {
	return m.Get(metricWrites, "result", "error", "verb", "create") +
		m.Get(metricWrites, "result", "error", "verb", "patch") + m.Get(metricWrites, "result", "error", "verb", "update")
}

// expectRcode sends a query and fails the test unless the answer has rcode.
func expectRcode(t *testing.T, addr, name string, qtype uint16, rcode int) *dns.Msg {
	t.Helper()
	r, _, err := devenv.Query(addr, name, qtype)
	if err == nil && r.Rcode != rcode {
		err = fmt.Errorf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[rcode])
	}
	if err != nil {
		t.Fatalf("query %s %s to %s: %v", name, dns.TypeToString[qtype], addr, err)
	}
	return r
}

// failQuery sends a query that the dead upstream makes fail: CoreDNS answers SERVFAIL
// and its errors plugin logs one line.
func failQuery(t *testing.T, addr, name string) {
	t.Helper()
	expectRcode(t, addr, name, dns.TypeA, dns.RcodeServerFailure)
}

// The local zone the template plugin answers, so that a test can tell that CoreDNS
// serves DNS whatever happens to the Kubernetes API.
const (
	localZone   = "local.test."
	localZoneIP = "192.0.2.53"
)

// localAnswer checks that CoreDNS answers name from its local zone.
func localAnswer(addr, name string) error {
	r, _, err := devenv.Query(addr, name, dns.TypeA)
	if err != nil {
		return err
	}
	if r.Rcode == dns.RcodeSuccess && len(r.Answer) == 1 {
		if a, ok := r.Answer[0].(*dns.A); ok && a.A.String() == localZoneIP {
			return nil
		}
	}
	return fmt.Errorf("query %s: %s %v, want NOERROR with A %s", name, dns.RcodeToString[r.Rcode], r.Answer, localZoneIP)
}

// Corefile parts.

// serverBlock renders a server block listening on 127.0.0.1 only; a directive may span
// several lines.
func serverBlock(key string, directives ...string) string {
	directives = append([]string{"bind 127.0.0.1"}, directives...)
	return key + " {\n    " + strings.ReplaceAll(strings.Join(directives, "\n"), "\n", "\n    ") + "\n}\n"
}

// zoneKey is the server block key for zone on addr's port.
func zoneKey(zone, addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return zone + ":" + port
}

// rootZone is the server block key for the root zone on addr's port.
func rootZone(addr string) string { return zoneKey(".", addr) }

// k8sEventDirective renders k8s_event with the given settings, one per line.
func k8sEventDirective(settings ...string) string {
	if len(settings) == 0 {
		return "k8s_event"
	}
	return "k8s_event {\n    " + strings.Join(settings, "\n    ") + "\n}"
}

// failingForward makes every query fail fast: it forwards to a loopback port where
// nothing listens, and errors logs one line per failed query.
func failingForward(t *testing.T) string { return "forward . " + freeAddr(t) }

// localZoneDirective answers A queries in localZone with localZoneIP.
func localZoneDirective() string {
	return fmt.Sprintf("template IN A %s {\n    answer \"{{ .Name }} 60 IN A %s\"\n}", localZone, localZoneIP)
}

// prometheusDirective serves metrics on addr.
func prometheusDirective(addr string) string { return "prometheus " + addr }

// The plugin's default rate settings.
const (
	defaultBurst = 25
	defaultQPS   = 1.0 / 300
)

// rateLimit is the most lines one token bucket lets through in elapsed: the burst, what
// refills meanwhile, and one for rounding.
func rateLimit(burst int, qps float64, elapsed time.Duration) int {
	return burst + int(qps*elapsed.Seconds()) + 1
}
