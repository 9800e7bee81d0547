package e2e

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	"github.com/miekg/dns"
)

// Reloads of TestReloadsCompleteAndLeaveNoGoroutines, by SIGUSR1 then by the reload
// plugin (which checks the Corefile every 2 s at the least, so fewer).
const (
	soakSignalReloads = 180
	soakPluginReloads = 20
)

// goroutineSlack is how many goroutines more than before the reloads CoreDNS may have
// once they are over and the queries stopped: connections of the forward plugin and of
// the Kubernetes client come and go.
const goroutineSlack = 15

// TestReloadsCompleteAndLeaveNoGoroutines: 200 reloads, by SIGUSR1 and by the reload
// plugin, while queries are served and every failed one logs an errors line that
// k8s_event reports. Every reload completes within its bound, CoreDNS answers after each,
// and once the reloads are over the goroutine count returns to where it started.
func TestReloadsCompleteAndLeaveNoGoroutines(t *testing.T) {
	t.Parallel()
	cl := sharedCluster(t)
	pod := cl.newPod(t)
	addr, metricsAddr := freeAddr(t), freeAddr(t)
	forward := failingForward(t)
	corefile := func(i int, withReload bool) string {
		directives := []string{"errors", forward, localZoneDirective(), cl.kubeapi(),
			fmt.Sprintf("cache %d", 30+i), // a real change: the reload plugin hashes the parsed Corefile, without comments
			k8sEventDirective("level error warning info", "rate 1 256"), prometheusDirective(metricsAddr)}
		if withReload {
			directives = append(directives, "reload 2s 1s")
		}
		return serverBlock(rootZone(addr), directives...)
	}
	c := startCoreDNS(t, corefile(0, false), podEnv(pod, true)...)
	failQuery(t, addr, "before-reloads.example.org.")

	// Queries all along: one the local zone answers and one that fails, every 10 ms.
	var answered, failed, lost atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if err := localAnswer(addr, fmt.Sprintf("q%d.%s", i, localZone)); err == nil {
				answered.Add(1)
			} else {
				lost.Add(1)
			}
			if r, _, err := devenv.Query(addr, fmt.Sprintf("q%d.example.org.", i), dns.TypeA); err == nil && r.Rcode == dns.RcodeServerFailure {
				failed.Add(1)
			} else {
				lost.Add(1)
			}
		}
	}()
	stopQueries := sync.OnceFunc(func() {
		close(stop)
		wg.Wait()
	})
	defer stopQueries()
	// What runs when CoreDNS serves queries and k8s_event reports their lines.
	time.Sleep(time.Second)
	before := goroutines(t, metricsAddr)

	completed := func(l []string) int { return countLines(l, "[INFO] ", "Reloading complete") }
	var slowest time.Duration
	began := time.Now()
	for i := 1; i <= soakSignalReloads+soakPluginReloads; i++ {
		start := time.Now()
		bound := 10 * time.Second
		if i <= soakSignalReloads {
			// The last one adds the reload plugin, which makes the reloads after it.
			reload(t, c, corefile(i, i == soakSignalReloads))
		} else {
			bound = reloadTimeout // the plugin's 2 s, plus up to 1 s of jitter, plus the reload
			if err := c.WriteCorefile(corefile(i, true)); err != nil {
				t.Fatal(err)
			}
		}
		waitOutput(t, c, bound, fmt.Sprintf("reload %d complete within %v", i, bound), func(l []string) bool { return completed(l) >= i })
		slowest = max(slowest, time.Since(start))
		if err := localAnswer(addr, fmt.Sprintf("after-reload-%d.%s", i, localZone)); err != nil {
			t.Fatalf("after reload %d: %v", i, err)
		}
	}
	took := time.Since(began)
	stopQueries()
	if n := countLines(c.Lines(), "[ERROR] ", "Restart failed"); n != 0 {
		t.Errorf("%d reloads failed", n)
	}

	// The goroutines of the reloaded configurations end: the count comes back to where it
	// was before the reloads, give or take the connections of the moment.
	var after int
	eventually(t, 30*time.Second, fmt.Sprintf("at most %d goroutines, %d before the reloads and %d more", before+goroutineSlack, before, goroutineSlack), func() (bool, string) {
		after = goroutines(t, metricsAddr)
		return after <= before+goroutineSlack, fmt.Sprint(after)
	})
	t.Logf("%d reloads (%d by SIGUSR1, %d by the reload plugin) in %v, the slowest %v; go_goroutines %d before, %d after; queries: %d answered, %d failed as they should, %d lost",
		soakSignalReloads+soakPluginReloads, soakSignalReloads, soakPluginReloads, took.Round(time.Millisecond), slowest.Round(time.Millisecond),
		before, after, answered.Load(), failed.Load(), lost.Load())
}

// goroutines is CoreDNS's go_goroutines, from the prometheus plugin at metricsAddr.
func goroutines(t *testing.T, metricsAddr string) int {
	t.Helper()
	m := scrape(t, metricsAddr)
	n, ok := m["go_goroutines"]
	if !ok {
		t.Fatalf("no go_goroutines at %s", metricsAddr)
	}
	return int(n)
}
