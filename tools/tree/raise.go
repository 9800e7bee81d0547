package main

import (
	"fmt"
	"sort"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"
)

// raises compares CoreDNS's go.mod before the plugin was added (before) with the tree's
// go.mod after `go mod tidy` (after) and returns what the plugin raised, one line each:
// "MODULE OLD → NEW" for every module before requires that after requires at a higher
// version, "go OLD → NEW" for the go line and "toolchain OLD → NEW" for the toolchain
// line when either changed. Modules the plugin adds, and modules tidy drops, are not
// raises: they change nothing CoreDNS built with.
func raises(before, after []byte) ([]string, error) {
	old, err := modfile.Parse("go.mod (before)", before, nil)
	if err != nil {
		return nil, err
	}
	cur, err := modfile.Parse("go.mod (after)", after, nil)
	if err != nil {
		return nil, err
	}
	now := map[string]string{}
	for _, r := range cur.Require {
		now[r.Mod.Path] = r.Mod.Version
	}
	var out []string
	for _, r := range old.Require {
		v, ok := now[r.Mod.Path]
		if ok && semver.Compare(v, r.Mod.Version) > 0 {
			out = append(out, fmt.Sprintf("%s %s → %s", r.Mod.Path, r.Mod.Version, v))
		}
	}
	sort.Strings(out)
	if g, h := goLine(old), goLine(cur); g != h {
		out = append(out, fmt.Sprintf("go %s → %s", g, h))
	}
	if g, h := toolchainLine(old), toolchainLine(cur); g != h {
		out = append(out, fmt.Sprintf("toolchain %s → %s", orNone(g), orNone(h)))
	}
	return out, nil
}

func goLine(f *modfile.File) string {
	if f.Go == nil {
		return ""
	}
	return f.Go.Version
}

func toolchainLine(f *modfile.File) string {
	if f.Toolchain == nil {
		return ""
	}
	return f.Toolchain.Name
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
