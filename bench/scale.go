package main

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
)

func scale(o options, bin string, t *table) error {
	out, err := runBenchmarks(o, bin, "scale", "^BenchmarkScale$", []string{
		"K8S_EVENT_SCALE_LINES=" + strconv.Itoa(o.scaleLines),
		"K8S_EVENT_SCALE_CACHES=" + o.scaleCache,
	}, "-test.benchtime", "1x")
	if err != nil {
		return err
	}
	type key struct{ cache, distinct int }
	res := map[key]map[string]float64{}
	var caches []int
	nameRE := regexp.MustCompile(`^BenchmarkScale/cache=(\d+)/distinct=(\d+)$`)
	for _, r := range parseBench(out) {
		m := nameRE.FindStringSubmatch(r.name)
		if m == nil {
			continue
		}
		c, _ := strconv.Atoi(m[1])
		d, _ := strconv.Atoi(m[2])
		res[key{c, d}] = r.values
		if !slices.Contains(caches, c) {
			caches = append(caches, c)
		}
	}
	if len(res) == 0 {
		return fmt.Errorf("no BenchmarkScale results")
	}
	slices.Sort(caches)
	lines := o.scaleLines
	allOneWrite := true
	var cpu []float64
	minCreates, maxCreates := math.Inf(1), 0.0
	for _, v := range res {
		allOneWrite = allOneWrite && v["writes"] == v["lines"]
		cpu = append(cpu, v["cpu-ns/line"])
		minCreates, maxCreates = min(minCreates, v["creates"]), max(maxCreates, v["creates"])
	}
	for _, c := range caches {
		atOne, atCache, atAll := res[key{c, 1}], res[key{c, min(c, lines)}], res[key{c, lines}]
		if atOne == nil || atCache == nil || atAll == nil {
			return fmt.Errorf("CACHESIZE %d: missing cases", c)
		}
		ok := atAll["retained-MiB"] <= 1.1*atCache["retained-MiB"]+1
		t.add(row{
			measure: fmt.Sprintf("scale: live heap with CACHESIZE %s, after 1 / %s / %s distinct msgs", fmtCount(float64(c)), fmtCount(float64(min(c, lines))), fmtCount(float64(lines))),
			on:      fmt.Sprintf("%.2f / %.2f / %.2f MiB", atOne["retained-MiB"], atCache["retained-MiB"], atAll["retained-MiB"]),
			ratio:   fmt.Sprintf("%s msgs vs %s: %+.2f MiB", fmtCount(float64(lines)), fmtCount(float64(min(c, lines))), atAll["retained-MiB"]-atCache["retained-MiB"]),
			target:  "bounded by CACHESIZE: ≤ ×1.1 + 1 MiB",
			met:     check(ok),
		})
	}
	big := caches[len(caches)-1]
	if v := res[key{big, lines}]; v != nil && big > 1 {
		t.add(row{
			measure: fmt.Sprintf("scale: live heap per CACHESIZE entry (CACHESIZE %s, %s msgs)", fmtCount(float64(big)), fmtCount(float64(lines))),
			on:      fmt.Sprintf("%.0f B", v["retained-MiB"]*(1<<20)/float64(min(big, lines))),
		})
	}
	slices.Sort(cpu)
	t.add(row{
		measure: fmt.Sprintf("scale: event writes, %s admitted lines per case", fmtCount(float64(lines))),
		on:      fmt.Sprintf("writes = lines in every case; %.0f to %.0f events created", minCreates, maxCreates),
		target:  "one write per admitted line",
		met:     check(allOneWrite),
	})
	t.add(row{
		measure: "scale: process CPU per admitted line (correlator, patch, fake API), median of cases",
		on:      fmtNs(cpu[len(cpu)/2]),
	})
	return nil
}
