package check

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// releaseNotes runs tools/release-notes.sh for tag on the changelog file and returns its
// output, its error output and whether it succeeded.
func releaseNotes(t *testing.T, tag, changelog string) (stdout, stderr string, ok bool) {
	t.Helper()
	cmd := exec.Command("bash", repoPath("tools", "release-notes.sh"), tag, changelog)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		t.Fatalf("tools/release-notes.sh: %v", err)
	}
	return out.String(), errOut.String(), err == nil
}

// sampleChangelog is a changelog in Keep a Changelog form with a pre-release, a release
// whose section ends at the link definitions, and a section without a date.
const sampleChangelog = `# Changelog

## [Unreleased]

### Added

- next

## [1.2.0-rc.1] - 2027-01-02

### Fixed

- the candidate's fix

## [1.1.0] - 2026-12-01


### Added

- a line
  and its continuation

### Fixed
- b

## [1.0.0]

- undated

## [0.9.0] - 2026-01-01

[Unreleased]: https://example.com/compare/v1.1.0...HEAD
[1.1.0]: https://example.com/releases/v1.1.0
`

// TestReleaseNotes: tools/release-notes.sh prints a tag's section without its heading and
// its surrounding blank lines, up to the next section or the link definitions, and fails
// when the tag has no section, an undated one or an empty one: the release workflow then
// publishes nothing.
func TestReleaseNotes(t *testing.T) {
	changelog := filepath.Join(t.TempDir(), "CHANGELOG.md")
	if err := os.WriteFile(changelog, []byte(sampleChangelog), 0o644); err != nil {
		t.Fatal(err)
	}
	for tag, want := range map[string]string{
		"v1.1.0":      "### Added\n\n- a line\n  and its continuation\n\n### Fixed\n- b\n",
		"v1.2.0-rc.1": "### Fixed\n\n- the candidate's fix\n",
	} {
		got, stderr, ok := releaseNotes(t, tag, changelog)
		if !ok || got != want {
			t.Errorf("release notes for %s: ok %v, got\n%s\nwant\n%s\n(stderr: %s)", tag, ok, got, want, stderr)
		}
	}
	for tag, why := range map[string]string{
		"v1.3.0": "has no section",
		"v1.0.0": "has no date",
		"v0.9.0": "is empty",
		"1.1.0":  "is not a release tag",
	} {
		got, stderr, ok := releaseNotes(t, tag, changelog)
		if ok || got != "" || !strings.Contains(stderr, why) {
			t.Errorf("release notes for %s: ok %v, output %q, stderr %q: want a failure saying %q", tag, ok, got, stderr, why)
		}
	}
}

var (
	changelogVersion = regexp.MustCompile(`^## \[(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)\] - (\d{4}-\d{2}-\d{2}|Unreleased)$`)
	changelogKinds   = map[string]bool{"Added": true, "Changed": true, "Deprecated": true, "Removed": true, "Fixed": true, "Security": true}
)

// TestChangelog: CHANGELOG.md is in Keep a Changelog form: Unreleased first, then version
// sections newest first, dated but for the newest, which may be the one being prepared
// (- Unreleased); each holds only the standard subsections, each once; every dated
// version's section is what tools/release-notes.sh publishes for its tag.
func TestChangelog(t *testing.T) {
	text := readText(t, "CHANGELOG.md")
	var sections []string
	var preparing string // the version being prepared, not tagged yet
	seen := map[string]bool{}
	for i, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "## "):
			name := "Unreleased"
			if line != "## [Unreleased]" {
				m := changelogVersion.FindStringSubmatch(line)
				if m == nil {
					t.Errorf("CHANGELOG.md:%d: %q: want ## [Unreleased] or ## [X.Y.Z] - YYYY-MM-DD", i+1, line)
					continue
				}
				name = m[1]
				if m[2] == "Unreleased" && len(sections) != 1 {
					t.Errorf("CHANGELOG.md:%d: %s is Unreleased: only the newest version, the one being prepared, may be", i+1, name)
				}
				if m[2] == "Unreleased" {
					preparing = name
				}
				if n := len(sections); n > 0 && sections[n-1] != "Unreleased" && !(versionKey("v"+name) < versionKey("v"+sections[n-1])) {
					t.Errorf("CHANGELOG.md:%d: %s after %s: want the newest first", i+1, name, sections[n-1])
				}
			} else if len(sections) > 0 {
				t.Errorf("CHANGELOG.md:%d: Unreleased is not the first section", i+1)
			}
			sections = append(sections, name)
			seen = map[string]bool{}
		case strings.HasPrefix(line, "### "):
			kind := strings.TrimPrefix(line, "### ")
			if !changelogKinds[kind] || len(sections) == 0 {
				t.Errorf("CHANGELOG.md:%d: %q: want one of Added, Changed, Deprecated, Removed, Fixed, Security, in a section", i+1, line)
			}
			if seen[kind] {
				t.Errorf("CHANGELOG.md:%d: a second %s in section %s", i+1, kind, sections[len(sections)-1])
			}
			seen[kind] = true
		}
	}
	if len(sections) == 0 || sections[0] != "Unreleased" {
		t.Fatal("CHANGELOG.md: no ## [Unreleased] section first: changes go there until they are released")
	}
	for _, version := range sections[1:] {
		if version == preparing {
			continue // tools/release-notes.sh refuses it until it has its date
		}
		if notes, stderr, ok := releaseNotes(t, "v"+version, repoPath("CHANGELOG.md")); !ok || notes == "" {
			t.Errorf("tools/release-notes.sh v%s: no release text from CHANGELOG.md (%s)", version, stderr)
		}
	}
}
