package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// addFleetRows adds a mode's rows with targets to the main table, one figure per size
// in each, separated by " / ".
func addFleetRows(t *table, rate pluginRate, mode fleetMode, results []fleetResult) {
	if len(results) == 0 {
		return
	}
	var sizes, writes, bounds, attempts, requests, settled, dnsOK, dnsP99 []string
	writesOK, attemptsOK, settledOK, dnsAll := true, true, true, true
	retries, early, tooMany := 0, 0, 0
	var shortest time.Duration
	for _, r := range results {
		sizes = append(sizes, fmt.Sprint(r.n))
		bound, plugin, ok := 0, 0.0, 0
		for _, rr := range r.replicas {
			bound += rr.bound
			plugin += rr.attempts()
			if rr.inFlight() == 0 {
				ok++
			}
		}
		writes = append(writes, fmtCount(float64(r.audit.writes)))
		bounds = append(bounds, fmtCount(float64(bound)))
		writesOK = writesOK && r.audit.writes <= bound
		attempts = append(attempts, fmtCount(plugin))
		requests = append(requests, fmtCount(float64(r.audit.requests)))
		attemptsOK = attemptsOK && int(plugin) == r.audit.requests
		settled = append(settled, fmt.Sprintf("%d/%d", ok, r.n))
		settledOK = settledOK && ok == r.n && len(r.replicas) == r.n
		dnsOK = append(dnsOK, fmt.Sprintf("%s/%s", fmtCount(float64(r.dns.inTime)), fmtCount(float64(r.dns.sent))))
		dnsP99 = append(dnsP99, fmtDur(r.dns.p99()))
		dnsAll = dnsAll && r.dns.sent > 0 && r.dns.inTime == r.dns.sent
		retries += r.audit.retries
		early += r.audit.early
		tooMany += r.audit.tooMany
		if r.audit.retries > 0 && (shortest == 0 || r.audit.shortestRetry < shortest) {
			shortest = r.audit.shortestRetry
		}
	}
	name := fmt.Sprintf("fleet, %s, N = %s", mode.name, strings.Join(sizes, " / "))
	t.add(row{
		measure: name + ": event writes (audit log, 2xx)",
		on:      strings.Join(writes, " / "),
		ratio:   "bound " + strings.Join(bounds, " / "),
		target:  fmt.Sprintf("≤ N × per-replica bound (%d + t × %s per plugin that logged)", rate.burst, rate.qpsText),
		met:     check(writesOK),
	})
	retryFigure := "no 429"
	if tooMany > 0 {
		retryFigure = fmt.Sprintf("%d of %d retries early; shortest wait %s", early, retries, fmtDur(shortest))
	}
	t.add(row{
		measure: fmt.Sprintf("fleet, %s: retries after a 429 (%d 429s in all)", mode.name, tooMany),
		on:      retryFigure,
		target:  "none sooner than 1 s doubling to 30 s",
		met:     check(early == 0),
	})
	t.add(row{
		measure: fmt.Sprintf("fleet, %s: write requests, plugin's api_writes_total vs audit log", mode.name),
		on:      strings.Join(attempts, " / "),
		ratio:   "audit " + strings.Join(requests, " / "),
		target:  "equal: every request counted",
		met:     check(attemptsOK),
	})
	t.add(row{
		measure: fmt.Sprintf("fleet, %s: replicas with lines_total = reported + dropped", mode.name),
		on:      strings.Join(settled, " / "),
		target:  "every replica: each line written or counted as dropped",
		met:     check(settledOK),
	})
	t.add(row{
		measure: fmt.Sprintf("fleet, %s: DNS answers within %v (SERVFAIL, as the upstream fails)", mode.name, onTime),
		on:      strings.Join(dnsOK, " / "),
		ratio:   "p99 " + strings.Join(dnsP99, " / "),
		target:  "every query",
		met:     check(dnsAll),
	})
}

// fleetTable holds the fleet's figures, a row per mode and size.
type fleetTable struct{ results []fleetResult }

func (ft *fleetTable) add(r ...fleetResult) { ft.results = append(ft.results, r...) }

var fleetHeader = []string{
	"API server", "N", "lines selected", "event writes (bound)", "write requests", "429s",
	"writes/s peak, mean", "replicas retrying: all, most within " + togetherWindow.String(), "last write after", "kube-apiserver CPU (idle)", "etcd CPU",
	"DNS in ≤ 1 s, p99", "dropped: " + strings.Join(dropReasons, " / "),
}

func (ft *fleetTable) print(w io.Writer) {
	rows := [][]string{fleetHeader}
	for _, r := range ft.results {
		lines, bound := 0.0, 0
		dropped := make([]float64, len(dropReasons))
		for _, rr := range r.replicas {
			lines += rr.lines()
			bound += rr.bound
			for i, reason := range dropReasons {
				dropped[i] += rr.dropped(reason)
			}
		}
		drops := make([]string, len(dropped))
		for i, d := range dropped {
			drops[i] = fmtCount(d)
		}
		lastWrite := fmt.Sprintf("%.1f s", r.lastWriteAfter().Seconds())
		if !r.drained {
			lastWrite += fmt.Sprintf(", lines left after %.0f s", r.window.Seconds())
		}
		rows = append(rows, []string{
			r.mode.name, fmt.Sprint(r.n), fmtCount(lines),
			fmt.Sprintf("%s (%s)", fmtCount(float64(r.audit.writes)), fmtCount(float64(bound))),
			fmtCount(float64(r.audit.requests)), fmtCount(float64(r.audit.tooMany)),
			fmt.Sprintf("%d, %.1f", r.audit.peakPerSecond, r.audit.meanPerSecond()),
			fmt.Sprintf("%d, %d", r.audit.retrying, r.audit.mostTogether),
			lastWrite,
			fmt.Sprintf("%.2f s in %.1f s (%.2f s)", r.apiCPU.Seconds(), r.window.Seconds(), r.apiIdle.Seconds()),
			fmt.Sprintf("%.2f s", r.etcdCPU.Seconds()),
			fmt.Sprintf("%s/%s, %s", fmtCount(float64(r.dns.inTime)), fmtCount(float64(r.dns.sent)), fmtDur(r.dns.p99())),
			strings.Join(drops, " / "),
		})
	}
	printMarkdown(w, rows)
}

// printMarkdown writes rows, the first a header, as a Markdown table, columns aligned.
func printMarkdown(w io.Writer, rows [][]string) {
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		b.WriteString("|")
		for i, c := range cells {
			fmt.Fprintf(&b, " %s%s |", c, strings.Repeat(" ", width[i]-len([]rune(c))))
		}
		fmt.Fprintln(w, b.String())
	}
	line(rows[0])
	sep := make([]string, len(width))
	for i := range sep {
		sep[i] = strings.Repeat("-", width[i])
	}
	line(sep)
	for _, r := range rows[1:] {
		line(r)
	}
}

// logReplicas writes each replica's counters to stderr.
func logReplicas(r fleetResult) {
	for _, rr := range r.replicas {
		a := r.audit.perReplica[rr.pod]
		if a == nil {
			a = &replicaAudit{}
		}
		drops := make([]string, len(dropReasons))
		for i, reason := range dropReasons {
			drops[i] = fmt.Sprintf("%s %.0f", reason, rr.dropped(reason))
		}
		progress("  %s %s: lines %.0f, reported %.0f (created %.0f, merged %.0f), dropped %s; in flight %.0f; plugin requests %.0f; audit: %d requests, %d writes, %d 429s; bound %d",
			r.mode.name, rr.pod, rr.lines(), rr.reported(),
			rr.metrics.Get("coredns_k8s_event_reported_total", "outcome", "created"),
			rr.metrics.Get("coredns_k8s_event_reported_total", "outcome", "merged"),
			strings.Join(drops, ", "), rr.inFlight(), rr.attempts(), a.requests, a.writes, a.tooMany, rr.bound)
	}
}
