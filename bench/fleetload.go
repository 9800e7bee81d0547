package main

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	"github.com/miekg/dns"
)

// onTime is how soon a DNS answer must come to count as on time: a fraction of a stub
// resolver's usual timeout of 5 s, and well above what a failing query takes.
const onTime = time.Second

// dnsLoad is what a query driver saw: every query's delay, and how many were answered
// (SERVFAIL included: the upstream is meant to fail).
type dnsLoad struct {
	sent, answered, inTime int
	delays                 []time.Duration // of the answered queries
}

func (l *dnsLoad) add(o dnsLoad) {
	l.sent += o.sent
	l.answered += o.answered
	l.inTime += o.inTime
	l.delays = append(l.delays, o.delays...)
}

// p99 is the 99th percentile of the answers' delays.
func (l dnsLoad) p99() time.Duration { return devenv.Percentile(l.delays, 0.99) }

// max is the longest delay of an answer.
func (l dnsLoad) max() time.Duration {
	if len(l.delays) == 0 {
		return 0
	}
	return slices.Max(l.delays)
}

// queryAll sends every address rate distinct queries per second, one at a time, from
// start for d, and returns what all of them saw. Each query name is new, so each
// failure logs a distinct line.
func queryAll(addrs []string, rate int, start time.Time, d time.Duration) dnsLoad {
	var mu sync.Mutex
	var total dnsLoad
	var wg sync.WaitGroup
	for r, addr := range addrs {
		wg.Go(func() {
			l := queryOne(addr, r, rate, start, d)
			mu.Lock()
			total.add(l)
			mu.Unlock()
		})
	}
	wg.Wait()
	return total
}

func queryOne(addr string, replica, rate int, start time.Time, d time.Duration) dnsLoad {
	var l dnsLoad
	client := &dns.Client{Net: "udp", Timeout: devenv.QueryTimeout}
	interval := time.Second / time.Duration(rate)
	time.Sleep(time.Until(start))
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * interval)
		if due.Sub(start) >= d {
			return l
		}
		time.Sleep(time.Until(due))
		m := new(dns.Msg)
		m.SetQuestion(fmt.Sprintf("q%d.r%d.fleet.example.", i, replica), dns.TypeA)
		l.sent++
		if _, rtt, err := client.Exchange(m, addr); err == nil {
			l.answered++
			l.delays = append(l.delays, rtt)
			if rtt <= onTime {
				l.inTime++
			}
		}
	}
}
