package main

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

func flood(o options, bin string, t *table) error {
	out, err := runBenchmarks(o, bin, "flood", "^BenchmarkFlood$", []string{
		"K8S_EVENT_FLOOD_RATE=" + strconv.Itoa(o.floodRate),
		"K8S_EVENT_FLOOD_DURATION=" + o.floodDur.String(),
	}, "-test.benchtime", "1x")
	if err != nil {
		return err
	}
	rs := parseBench(out)
	off, err := one(rs, "BenchmarkFlood/off")
	if err != nil {
		return err
	}
	on, err := one(rs, "BenchmarkFlood/on")
	if err != nil {
		return err
	}
	secs := o.floodDur.Seconds()
	name := fmt.Sprintf("flood (%s lines/s for %v, rate 1 256)", fmtCount(float64(o.floodRate)), o.floodDur)

	rate := func(m map[string]float64) string {
		return fmt.Sprintf("%s lines, %s/s", fmtCount(m["lines"]), fmtCount(m["lines/s"]))
	}
	t.add(row{
		measure: name + ": lines logged through clog errors",
		off:     rate(off), on: rate(on),
		ratio:  fmtRatio(on["lines/s"] / off["lines/s"]),
		target: fmt.Sprintf("≥ 95%% of %s/s", fmtCount(float64(o.floodRate))),
		met:    check(min(on["lines/s"], off["lines/s"]) >= 0.95*float64(o.floodRate)),
	})
	t.add(row{
		measure: "flood: process CPU per line (user+sys)",
		off:     fmtNs(off["cpu-ns/line"]), on: fmtNs(on["cpu-ns/line"]),
		ratio: fmt.Sprintf("%s (%s)", fmtDeltaNs(on["cpu-ns/line"]-off["cpu-ns/line"]), fmtRatio(on["cpu-ns/line"]/off["cpu-ns/line"])),
	})
	t.add(row{
		measure: "flood: peak growth of the live heap",
		off:     fmtMiB(off["peak-live-MiB"]), on: fmtMiB(on["peak-live-MiB"]),
		ratio:  fmt.Sprintf("%+.2f MiB", on["peak-live-MiB"]-off["peak-live-MiB"]),
		target: "≤ 16 MiB", met: check(on["peak-live-MiB"] <= 16),
	})
	t.add(row{
		measure: "flood: peak growth of the heap, garbage included",
		off:     fmtMiB(off["peak-heap-MiB"]), on: fmtMiB(on["peak-heap-MiB"]),
		ratio:  fmt.Sprintf("%+.2f MiB", on["peak-heap-MiB"]-off["peak-heap-MiB"]),
		target: "≤ 16 MiB", met: check(on["peak-heap-MiB"] <= 16),
	})
	t.add(row{
		measure: "flood: event writes (create+patch+update) vs burst + QPS × seconds",
		off:     fmtCount(off["writes"]), on: fmt.Sprintf("%s (%s creates)", fmtCount(on["writes"]), fmtCount(on["creates"])),
		ratio:  fmt.Sprintf("bound %s = 256 + 1/s × %.0f s", fmtCount(on["write-bound"]), on["write-bound"]-256),
		target: "≤ bound", met: check(on["writes"] <= on["write-bound"]),
	})
	var dropped float64
	var parts []string
	for _, unit := range slices.Sorted(maps.Keys(on)) {
		if reason, ok := strings.CutPrefix(unit, "dropped-"); ok {
			dropped += on[unit]
			parts = append(parts, fmt.Sprintf("%s %s", reason, fmtCount(on[unit])))
		}
	}
	t.add(row{
		measure: "flood: lines dropped, by reason (coredns_k8s_event_dropped_total)",
		on:      strings.Join(parts, ", "),
		ratio:   fmt.Sprintf("written + dropped = %s of %s selected", fmtCount(on["writes"]+dropped), fmtCount(on["selected"])),
		target:  "every selected line written or counted as dropped",
		met:     check(on["writes"]+dropped == on["selected"] && on["selected"] == on["lines"]),
	})
	allowed := 1 + math.Floor(secs/60)
	t.add(row{
		measure: "flood: lines printed by k8s_event or client-go (not the logged line)",
		off:     fmtCount(off["plugin-out-lines"]), on: fmtCount(on["plugin-out-lines"]),
		ratio:  fmt.Sprintf("of %s lines printed", fmtCount(on["out-lines"])),
		target: fmt.Sprintf("no per-line output (≤ %.0f)", allowed),
		met:    check(on["plugin-out-lines"] <= allowed),
	})
	return nil
}

// Scale.
