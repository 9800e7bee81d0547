package check

import (
	"os"
	"path"
	"slices"
	"strings"
	"testing"

	yaml3 "go.yaml.in/yaml/v3"
)

// dependabotConfig is the part of .github/dependabot.yml this test reads.
type dependabotConfig struct {
	Version int `yaml:"version"`
	Updates []struct {
		Ecosystem   string   `yaml:"package-ecosystem"`
		Directory   string   `yaml:"directory"`
		Directories []string `yaml:"directories"`
		Schedule    struct {
			Interval string `yaml:"interval"`
		} `yaml:"schedule"`
		Limit  *int `yaml:"open-pull-requests-limit"`
		Groups map[string]struct {
			Patterns []string `yaml:"patterns"`
		} `yaml:"groups"`
	} `yaml:"updates"`
}

// goModuleDirs lists the directories of the repository's go.mod files, tracked or new
// (not ignored), as Dependabot names them: /, /tools/kube.
func goModuleDirs(t *testing.T) []string {
	t.Helper()
	out := command(t, "git", "-C", root, "ls-files", "--cached", "--others", "--exclude-standard", "--", "*go.mod", "go.mod")
	var dirs []string
	for _, file := range strings.Fields(out) {
		if path.Base(file) != "go.mod" {
			continue
		}
		if _, err := os.Stat(repoPath(file)); err != nil {
			continue // deleted in the work tree
		}
		dir := strings.TrimSuffix("/"+path.Dir(file), ".")
		if !slices.Contains(dirs, dir) {
			dirs = append(dirs, dir)
		}
	}
	if !slices.Contains(dirs, "/") {
		t.Fatalf("git ls-files lists no go.mod at the repository root: %q", out)
	}
	return dirs
}

// TestDependabot: .github/dependabot.yml watches every go.mod of the repository exactly
// once and names no directory without one; the plugin's module gets security updates
// only (its requirements are the oldest versions it supports); in every other module the
// Kubernetes modules move together, in one group; and the workflows' actions are watched.
func TestDependabot(t *testing.T) {
	var config dependabotConfig
	if err := yaml3.Unmarshal([]byte(readText(t, ".github", "dependabot.yml")), &config); err != nil {
		t.Fatalf(".github/dependabot.yml: %v", err)
	}
	if config.Version != 2 {
		t.Errorf(".github/dependabot.yml: version %d, want 2", config.Version)
	}
	covered := map[string]int{}
	var actions bool
	for i, u := range config.Updates {
		if u.Schedule.Interval == "" {
			t.Errorf(".github/dependabot.yml: update %d (%s) has no schedule", i, u.Ecosystem)
		}
		switch u.Ecosystem {
		case "github-actions":
			actions = actions || u.Directory == "/"
		case "gomod":
			dirs := u.Directories
			if u.Directory != "" {
				dirs = append(dirs, u.Directory)
			}
			for _, dir := range dirs {
				covered[dir]++
				if dir == "/" {
					if u.Limit == nil || *u.Limit != 0 || len(dirs) > 1 {
						t.Error(".github/dependabot.yml: the plugin's module (/) must have an entry of its own with open-pull-requests-limit: 0: its requirements are the oldest versions it supports")
					}
					continue
				}
				if !slices.Equal(u.Groups["kubernetes"].Patterns, []string{"k8s.io/*", "sigs.k8s.io/*"}) {
					t.Errorf(".github/dependabot.yml: module %s: no group kubernetes with the patterns k8s.io/* and sigs.k8s.io/*: its Kubernetes modules would not move together", dir)
				}
			}
		}
	}
	if !actions {
		t.Error(".github/dependabot.yml: the workflows' actions (github-actions, directory /) are not watched")
	}
	modules := goModuleDirs(t)
	for _, dir := range modules {
		if covered[dir] != 1 {
			t.Errorf(".github/dependabot.yml: the module in %s is listed %d times, want once", dir, covered[dir])
		}
	}
	for dir := range covered {
		if !slices.Contains(modules, dir) {
			t.Errorf(".github/dependabot.yml: %s has no go.mod", dir)
		}
	}
}
