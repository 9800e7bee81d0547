package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
)

// apfTable holds the apf part's runs, printed as three tables: the clients' latency by
// phase, the fleet's writes, and how API Priority and Fairness classified each client.
type apfTable struct{ results []apfResult }

// apfTarget is the target for the controllers' p99 during the burst and the
// outage with flow control: at most this ratio to before.
const apfTarget = 1.1

func (at *apfTable) print(w io.Writer) {
	if len(at.results) == 0 {
		return
	}
	rows := [][]string{{"configuration", "round", "clients", "p50 before", "p50 burst / outage / after", "p99 before", "p99 burst / outage / after", "failed requests"}}
	for _, r := range at.results {
		for _, kind := range []string{"controller", "node"} {
			var p50, p99 [4]time.Duration
			failed := 0
			for i, ph := range r.phases {
				var took []time.Duration
				for _, c := range r.clients {
					if c.kind == kind {
						t, f := c.between(ph[0], ph[1])
						took = append(took, t...)
						failed += f
					}
				}
				p50[i], p99[i] = devenv.Percentile(took, 0.5), devenv.Percentile(took, 0.99)
			}
			ratios := func(p [4]time.Duration) string {
				var s []string
				for _, d := range p[1:] {
					s = append(s, ratio(d, p[0]))
				}
				return strings.Join(s, " / ")
			}
			rows = append(rows, []string{r.config.name, fmt.Sprint(r.round + 1), kind + "s",
				fmtDur(p50[0]), ratios(p50), fmtDur(p99[0]), ratios(p99), fmt.Sprint(failed)})
		}
	}
	fmt.Fprintf(w, "apf: clients' latency, ratios to before (target with flow control: the controllers' p99 in the burst and the outage at most ×%.1f)\n\n", apfTarget)
	printMarkdown(w, rows)

	rows = [][]string{{"configuration", "round", "N", "lines selected", "event writes", "write requests", "429s",
		"last write after", "lines not accounted for", "dropped: " + strings.Join(dropReasons, " / "), "DNS in ≤ 1 s", "replica peak RSS", "killed at the end"}}
	for _, r := range at.results {
		lines, inFlight := 0.0, 0.0
		dropped := make([]string, len(dropReasons))
		for i, reason := range dropReasons {
			d := 0.0
			for _, rr := range r.fleet.replicas {
				d += rr.dropped(reason)
			}
			dropped[i] = fmtCount(d)
		}
		for _, rr := range r.fleet.replicas {
			lines += rr.lines()
			inFlight += rr.inFlight()
		}
		last := fmt.Sprintf("%.1f s", r.fleet.lastWriteAfter().Seconds())
		if !r.fleet.drained {
			last += fmt.Sprintf(", not drained after %.0f s", r.fleet.window.Seconds())
		}
		rows = append(rows, []string{r.config.name, fmt.Sprint(r.round + 1), fmt.Sprint(r.n), fmtCount(lines),
			fmtCount(float64(r.fleet.audit.writes)), fmtCount(float64(r.fleet.audit.requests)), fmtCount(float64(r.fleet.audit.tooMany)),
			last, fmtCount(inFlight), strings.Join(dropped, " / "),
			fmt.Sprintf("%s/%s", fmtCount(float64(r.fleet.dns.inTime)), fmtCount(float64(r.fleet.dns.sent))),
			fmtMiB(float64(r.rssKiB) / (1 << 20)), fmt.Sprint(r.killed)})
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "apf: the fleet's writes")
	fmt.Fprintln(w)
	printMarkdown(w, rows)

	rows = [][]string{{"configuration", "round", "client", "FlowSchema → priority level (response headers)"}}
	for _, r := range at.results {
		for _, c := range r.clients {
			rows = append(rows, []string{r.config.name, fmt.Sprint(r.round + 1), c.name, classifiedAs(c, r.names)})
		}
		var pairs []string
		for pair, n := range r.classified {
			if !strings.HasPrefix(pair, "exempt ") && n > 0 {
				pairs = append(pairs, fmt.Sprintf("%s ×%s (mean queue wait %s)", pair, fmtCount(float64(n)), fmtDur(r.waited[pair])))
			}
		}
		slices.Sort(pairs)
		rows = append(rows, []string{r.config.name, fmt.Sprint(r.round + 1), "all (API server's APF metrics, exempt left out)", strings.Join(pairs, ", ")})
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "apf: classification")
	fmt.Fprintln(w)
	printMarkdown(w, rows)
}

// ratio is d / base as ×R, or "n/a" without a base.
func ratio(d, base time.Duration) string {
	if base <= 0 || d <= 0 {
		return "n/a"
	}
	return fmtRatio(float64(d) / float64(base))
}

// controllerP99 is the ratio of the controllers' p99 in each phase to before.
func (r apfResult) controllerP99() (burst, outage float64) {
	var p99 [4]time.Duration
	for i, ph := range r.phases {
		var took []time.Duration
		for _, c := range r.clients {
			if c.kind == "controller" {
				t, _ := c.between(ph[0], ph[1])
				took = append(took, t...)
			}
		}
		p99[i] = devenv.Percentile(took, 0.99)
	}
	if p99[0] <= 0 {
		return 0, 0
	}
	return float64(p99[1]) / float64(p99[0]), float64(p99[2]) / float64(p99[0])
}

// addAPFRows adds the apf part's targets to the main table: the controllers' p99 with
// flow control (and the same figure for the other configurations), every line written or
// counted, and the fleet's requests in the shipped priority level and nowhere else.
func addAPFRows(t *table, results []apfResult) {
	for _, r := range results {
		burst, outage := r.controllerP99()
		name := fmt.Sprintf("apf, %s, round %d, N=%d", r.config.name, r.round+1, r.n)
		p99 := row{measure: name + ": controllers' p99, burst / outage, ratio to before",
			on: fmt.Sprintf("%s / %s", fmtRatio(burst), fmtRatio(outage))}
		if r.config.flowControl {
			p99.target = fmt.Sprintf("≤ ×%.1f", apfTarget)
			p99.met = check(burst > 0 && burst <= apfTarget && outage > 0 && outage <= apfTarget)
		}
		t.add(p99)
		settled := 0
		for _, rr := range r.fleet.replicas {
			if rr.inFlight() == 0 {
				settled++
			}
		}
		t.add(row{measure: name + ": replicas with every line written or counted as dropped",
			on: fmt.Sprintf("%d/%d", settled, r.n), target: "all", met: check(settled == r.n && len(r.fleet.replicas) == r.n)})
		if r.config.flowControl {
			inOurs := r.classified["coredns-k8s-event → coredns-k8s-event"]
			t.add(row{measure: name + ": requests in coredns-k8s-event (APF) / the fleet's write requests (audit log)",
				on:     fmt.Sprintf("%s / %s", fmtCount(float64(inOurs)), fmtCount(float64(r.fleet.audit.requests))),
				target: "equal", met: check(inOurs == r.fleet.audit.requests)})
		}
	}
}
