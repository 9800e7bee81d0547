//go:build tools

// Package tools records the command this module builds (see tools/build.sh): the
// Prometheus server, which the alerting test (make alerting) runs against the e2e
// CoreDNS with deploy/monitoring's rules.
package tools

import _ "github.com/prometheus/prometheus/cmd/prometheus"
