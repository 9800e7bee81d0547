package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/google/pprof/profile"
)

// cpuShares reads CPU profiles of CoreDNS and returns the shares of its CPU time spent
// in k8s_event's listener, on the goroutines that log, and in its event pipeline (the
// plugin's sender and client-go's recorder, broadcaster and sink), in the background.
// Garbage collection of what they allocate is not attributed to them.
func cpuShares(paths []string) (listener, pipeline float64, err error) {
	var total, inListener, inPipeline int64
	for _, path := range paths {
		t, l, bg, err := cpuSamples(path)
		if err != nil {
			return 0, 0, err
		}
		total, inListener, inPipeline = total+t, inListener+l, inPipeline+bg
	}
	if total == 0 {
		return 0, 0, fmt.Errorf("empty profiles")
	}
	return float64(inListener) / float64(total), float64(inPipeline) / float64(total), nil
}

// cpuSamples returns the CPU time of a profile in all, in the listener and in the
// pipeline.
func cpuSamples(path string) (total, inListener, inPipeline int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, 0, err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("%s: %v", path, err)
	}
	idx := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			idx = i
		}
	}
	if idx < 0 {
		return 0, 0, 0, fmt.Errorf("%s: no cpu samples", path)
	}
	for _, s := range p.Sample {
		v := s.Value[idx]
		total += v
		var l, bg bool
		for _, loc := range s.Location {
			for _, line := range loc.Line {
				if line.Function == nil {
					continue
				}
				name := line.Function.Name
				switch {
				case strings.HasPrefix(name, "github.com/coredns/k8s_event.(*listener)."):
					l = true
				case strings.HasPrefix(name, "github.com/coredns/k8s_event."),
					strings.HasPrefix(name, "k8s.io/client-go/tools/record."),
					strings.HasPrefix(name, "k8s.io/apimachinery/pkg/watch."):
					bg = true
				}
			}
		}
		switch {
		case l:
			inListener += v
		case bg:
			inPipeline += v
		}
	}
	return total, inListener, inPipeline, nil
}
