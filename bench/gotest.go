package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// The in-process benchmarks live in the plugin's own package, next to the test seams
// they use; they run from one test binary built here.

func buildTestBinary(o options) (string, error) {
	bin := filepath.Join(o.work, "k8s_event.test")
	cmd := exec.Command("go", "test", "-c", "-o", bin, ".")
	cmd.Dir = o.root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building the plugin's test binary: %v", err)
	}
	return bin, nil
}

// runBenchmarks runs the test binary's benchmarks matching pattern, saving the output
// to work/name.txt, and returns it.
func runBenchmarks(o options, bin, name, pattern string, env []string, args ...string) (string, error) {
	path := filepath.Join(o.work, name+".txt")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var out bytes.Buffer
	cmd := exec.Command(bin, append([]string{"-test.run", "^$", "-test.bench", pattern}, args...)...)
	cmd.Dir = o.root
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = io.MultiWriter(f, &out, os.Stderr)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s: %v (output in %s)", name, err, path)
	}
	return out.String(), nil
}

// benchResult is one line of benchmark output.
type benchResult struct {
	name   string // without the GOMAXPROCS suffix
	values map[string]float64
}

var procsSuffix = regexp.MustCompile(`-\d+$`)

func parseBench(out string) []benchResult {
	var rs []benchResult
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		r := benchResult{name: procsSuffix.ReplaceAllString(f[0], ""), values: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			r.values[f[i+1]] = v
		}
		rs = append(rs, r)
	}
	return rs
}

// samples gathers the values of unit of every run of each benchmark.
func samples(rs []benchResult, unit string) map[string][]float64 {
	s := map[string][]float64{}
	for _, r := range rs {
		if v, ok := r.values[unit]; ok {
			s[r.name] = append(s[r.name], v)
		}
	}
	return s
}

// one returns the single result named name.
func one(rs []benchResult, name string) (map[string]float64, error) {
	for _, r := range rs {
		if r.name == name {
			return r.values, nil
		}
	}
	return nil, fmt.Errorf("no result for %s", name)
}

// Hot path.

var (
	hotCases      = []string{"no_listener", "level_not_reported", "rate_limited", "admitted", "rate_limited_api_hangs", "admitted_api_hangs"}
	listenerCases = []string{"level_not_reported", "rate_limited", "admitted"}
	parallelCases = []string{"rate_limited"}
)
