//go:build tools

// Package tools records the command this module builds (see tools/build.sh):
// Alertmanager, which the alerting test (make alerting) runs with kube-prometheus-stack's
// default inhibit rules.
package tools

import _ "github.com/prometheus/alertmanager/cmd/alertmanager"
