// Command tree prepares CoreDNS's own source tree at a release tag for `go build`, the
// way CoreDNS documents for external plugins: with -plugin, kubeapi and k8s_event
// appended to its plugin.cfg, k8s_event taken from this checkout; without, CoreDNS as
// released (what kubeadm runs).
//
// Usage:
//
//	go run -C tools/tree . -version v1.14.6 -dir DIR [-plugin ROOT]   (absolute paths)
//
// DIR becomes CoreDNS's tree at that tag (the module zip the Go module proxy serves,
// copied and made writable). With -plugin ROOT (this repository's root), the tree then
// gets the two plugin.cfg lines, a replace of github.com/coredns/k8s_event by ROOT
// (relative to DIR), kubeapi at the version the README names, `go generate coredns.go`
// and `go mod tidy`; and the step fails, naming each, if tidy raised a module the tree's
// go.mod already required, or its go or toolchain line: a CoreDNS nobody tested. The
// caller builds DIR (make coredns: `go build -C DIR ...`). A tree already prepared from
// the same inputs (version, ROOT's go.mod and go.sum) is kept: the plugin's Go files are
// read from ROOT at build time.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	version := flag.String("version", "", "the CoreDNS release tag, e.g. v1.14.6")
	dir := flag.String("dir", "", "the directory the tree is prepared in (replaced)")
	plugin := flag.String("plugin", "", "this repository's root: add kubeapi and k8s_event from it (none: CoreDNS as released)")
	flag.Parse()
	if *version == "" || *dir == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: tree -version vX.Y.Z -dir DIR [-plugin ROOT]")
		os.Exit(2)
	}
	// go run -C tools/tree runs in tools/tree: a relative path would name a directory
	// there, not the caller's.
	if !filepath.IsAbs(*dir) || (*plugin != "" && !filepath.IsAbs(*plugin)) {
		fmt.Fprintln(os.Stderr, "tree: -dir and -plugin must be absolute paths")
		os.Exit(2)
	}
	if err := prepare(*version, *dir, *plugin); err != nil {
		fmt.Fprintf(os.Stderr, "CoreDNS %s tree: %v\n", *version, err)
		os.Exit(1)
	}
}
