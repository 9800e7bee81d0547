// Command scalerules writes a rule file's alerts with every duration divided by a factor
// (check.ScaleRules: for: and the expressions' ranges, nothing else), for the alerting
// test (make alerting), whose Prometheus scrapes and evaluates that much faster.
//
// Usage: go run ./cmd/scalerules -factor 30 -in ../rules.yaml -out FILE
package main

import (
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/coredns/k8s_event/deploy/monitoring/check"
	"go.yaml.in/yaml/v3"
)

func main() {
	factor := flag.Int("factor", 30, "divide every duration by this")
	in := flag.String("in", "", "the rule file")
	out := flag.String("out", "", "where to write the scaled rule file")
	flag.Parse()
	if *in == "" || *out == "" {
		log.Fatal("usage: scalerules -factor N -in RULES -out FILE")
	}
	f, err := check.ReadRuleFile(*in)
	if err != nil {
		log.Fatal(err)
	}
	scaled, err := check.ScaleRules(f, *factor)
	if err != nil {
		log.Fatalf("%s: %v", *in, err)
	}
	data, err := yaml.Marshal(scaled)
	if err != nil {
		log.Fatal(err)
	}
	head := fmt.Sprintf("# %s with every duration divided by %d (scalerules): for the alerting test only.\n", *in, *factor)
	if err := os.WriteFile(*out, append([]byte(head), data...), 0o644); err != nil {
		log.Fatal(err)
	}
}
