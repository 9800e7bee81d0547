package check

import (
	"go/build/constraint"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// vetCall matches a go vet in the Makefile: lint's $(call vet,DIR[,-tags T]), its tags
// joined by $(comma), and $(call vet_trimpath,DIR), or a target's own
// `go vet -C DIR [-tags T]`.
var vetCall = regexp.MustCompile(`\$\(call vet(?:_trimpath)?,([^,)]+)(?:,-tags ((?:[^)$]|\$\(comma\))+))?\)|go vet -C (\S+)(?: -tags (\S+))?`)

// TestMakefileVetsEveryTestedFile: make test's go test runs with -vet=off (GO_TEST), so
// make lint's go vet is the only vet of the tests: every module with test files must be
// in it, and every build tag a module's files use must be vetted by some go vet in the
// Makefile (lint's, or the target that runs the tests with that tag).
func TestMakefileVetsEveryTestedFile(t *testing.T) {
	makefile := readText(t, "Makefile")
	lint, vetted := map[string]bool{}, map[string][]string{} // module → vetted in lint; module → tags vetted anywhere
	inLint := false
	for _, line := range strings.Split(makefile, "\n") {
		if !strings.HasPrefix(line, "\t") {
			inLint = strings.HasPrefix(line, "lint:")
		}
		for _, m := range vetCall.FindAllStringSubmatch(line, -1) {
			dir, tags := m[1], m[2]
			if m[3] != "" {
				dir, tags = m[3], m[4]
			}
			dir = path.Clean(strings.TrimSpace(dir))
			lint[dir] = lint[dir] || (inLint && m[1] != "")
			vetted[dir] = append(vetted[dir], strings.Split(strings.ReplaceAll(tags, "$(comma)", ","), ",")...)
		}
	}

	modules := goModuleDirs(t) // "/", "/e2e", …
	moduleOf := func(file string) string {
		best := "."
		for _, m := range modules {
			dir := strings.TrimPrefix(m, "/")
			if dir != "" && strings.HasPrefix(file, dir+"/") && len(dir) > len(best) {
				best = dir
			}
		}
		return best
	}
	files := strings.Fields(command(t, "git", "-C", root, "ls-files", "--cached", "--others", "--exclude-standard", "--", "*.go"))
	for _, file := range files {
		mod := moduleOf(file)
		if strings.HasSuffix(file, "_test.go") && !lint[mod] {
			t.Errorf("%s: its module (%s) has tests but make lint does not vet it", file, mod)
		}
		for _, tag := range buildTags(t, file) {
			if !slices.Contains(vetted[mod], tag) && (strings.HasSuffix(file, "_test.go") || lint[mod]) {
				t.Errorf("%s: build tag %q: no go vet in the Makefile vets module %s with it", file, tag, mod)
			}
		}
	}
}

// buildTags returns the tags of file's //go:build line that are not an operating system
// or architecture (those go vet picks for this machine) or tools.
func buildTags(t *testing.T, file string) []string {
	t.Helper()
	var tags []string
	for _, line := range strings.Split(readText(t, file), "\n") {
		if !constraint.IsGoBuild(line) {
			if strings.HasPrefix(line, "package ") {
				break
			}
			continue
		}
		expr, err := constraint.Parse(line)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		expr.Eval(func(tag string) bool {
			if !knownOSOrArch[tag] && !slices.Contains(tags, tag) {
				tags = append(tags, tag)
			}
			return true
		})
	}
	return tags
}

// knownOSOrArch are the GOOS and GOARCH values this repository's files are built for, and
// tools, the tag of the tools.go files that only pin a tool's module and are never built.
var knownOSOrArch = map[string]bool{"linux": true, "darwin": true, "windows": true, "amd64": true, "arm64": true, "tools": true}
