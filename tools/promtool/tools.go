//go:build tools

// Package tools records the command this module builds (see tools/build.sh): promtool,
// which tests the alert rules of deploy/ (`promtool test rules`).
package tools

import _ "github.com/prometheus/prometheus/cmd/promtool"
