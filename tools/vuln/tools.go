//go:build tools

// Package tools records the commands this module builds (see tools/build.sh):
// govulncheck, and vulndb's indexdb, which turns the OSV files of the pinned
// golang.org/x/vulndb into the database govulncheck -db file://DIR reads.
package tools

import (
	_ "golang.org/x/vuln/cmd/govulncheck"
	_ "golang.org/x/vulndb/cmd/indexdb"
)
