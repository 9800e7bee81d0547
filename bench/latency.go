package main

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
)

// latency times lines from the moment the query that logs them is sent to the moment
// their event arrives on a watch of the API server. Each line is distinct (the query
// name is in it). At the default spacing no rate limit on the way holds any back: not
// the token bucket (1/s, burst 256), nor the client-side limit of kubeapi's client
// (client-go's default: 5 requests/s, burst 10).
func latency(ctx context.Context, o options, t *table, cp *devenv.ControlPlane, pod *corev1.Pod, conf string, env []string) error {
	c, err := startCoreDNS(o, "latency", conf, env)
	if err != nil {
		return err
	}
	defer c.Stop()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := cp.AdminClient().CoreV1().Events(pod.Namespace).Watch(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("involvedObject.name", pod.Name).String(),
	})
	if err != nil {
		return err
	}
	defer w.Stop()

	nonce := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	nameRE := regexp.MustCompile(`lat(\d+)\.` + nonce + `\.example\.`)
	var mu sync.Mutex
	sent := map[int]time.Time{}
	var lat []time.Duration
	seen := map[int]bool{}
	all := make(chan struct{})
	go func() {
		for ev := range w.ResultChan() {
			if ev.Type != watch.Added && ev.Type != watch.Modified {
				continue
			}
			e, ok := ev.Object.(*corev1.Event)
			if !ok {
				continue
			}
			now := time.Now()
			m := nameRE.FindStringSubmatch(e.Message)
			if m == nil {
				continue
			}
			i, _ := strconv.Atoi(m[1])
			mu.Lock()
			if t0, ok := sent[i]; ok && !seen[i] {
				seen[i] = true
				lat = append(lat, now.Sub(t0))
				if len(lat) == o.latencyN {
					close(all)
				}
			}
			mu.Unlock()
		}
	}()

	client := &dns.Client{Timeout: 2 * time.Second}
	for i := range o.latencyN {
		m := new(dns.Msg)
		m.SetQuestion(fmt.Sprintf("lat%d.%s.example.", i, nonce), dns.TypeA)
		mu.Lock()
		sent[i] = time.Now()
		mu.Unlock()
		if _, _, err := client.Exchange(m, c.addr()); err != nil {
			return fmt.Errorf("query %d: %v", i, err)
		}
		time.Sleep(o.spacing)
	}
	select {
	case <-all:
	case <-time.After(10 * time.Second):
	}
	mu.Lock()
	got := slices.Clone(lat)
	mu.Unlock()
	if len(got) == 0 {
		return fmt.Errorf("no event seen for %d lines; CoreDNS log:\n%s", o.latencyN, c.Tail(20))
	}
	slices.Sort(got)
	p50, p99 := devenv.Percentile(got, 0.5), devenv.Percentile(got, 0.99)
	name := fmt.Sprintf("log line → event on a watch of the API server (%d/%d lines %v apart seen, rate 1 256)", len(got), o.latencyN, o.spacing)
	t.add(row{measure: name + ": p50", on: fmtDur(p50), target: "≤ 50 ms", met: check(p50 <= 50*time.Millisecond && len(got) == o.latencyN)})
	t.add(row{measure: "log line → event on a watch: p99", on: fmtDur(p99), ratio: fmt.Sprintf("max %s", fmtDur(got[len(got)-1]))})
	return nil
}
