package check

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// newestRelease is the version of CHANGELOG.md's first version section, the release
// being prepared or the last one: ## [X.Y.Z] - DATE, or - Unreleased.
var newestRelease = regexp.MustCompile(`(?m)^## \[([0-9]+\.[0-9]+\.[0-9]+\S*)\]`)

// TestPinnedTagIsTheRelease: deploy/helm/values.yaml pins the image tag that the
// release's tag function (tools/image tag) gives for the newest CHANGELOG.md version on
// the CoreDNS make coredns builds by default, and the README and the CHANGELOG name that tag: a
// release that forgets one of them fails here.
func TestPinnedTagIsTheRelease(t *testing.T) {
	m := newestRelease.FindStringSubmatch(readText(t, "CHANGELOG.md"))
	if m == nil {
		t.Fatal("CHANGELOG.md: no section ## [X.Y.Z]")
	}
	coredns := defaultVersion(t)
	want := releaseTag(t, "v"+m[1], coredns)
	if got := helm(t).Image.Tag; got != want {
		t.Errorf("deploy/helm/values.yaml pins image tag %q, want %q (release v%s on CoreDNS %s)", got, want, m[1], coredns)
	}
	for _, file := range []string{"README.md", "CHANGELOG.md"} {
		if !strings.Contains(readText(t, file), want) {
			t.Errorf("%s does not name the release's image tag %q", file, want)
		}
	}
}

// releaseTag is the image tag the release gives plugin version plugin on CoreDNS
// version coredns (tools/image tag).
func releaseTag(t *testing.T, plugin, coredns string) string {
	t.Helper()
	return command(t, "go", "run", "-C", repoPath("tools", "image"), ".", "tag", "-version", plugin, "-coredns", coredns)
}

// command runs a program and returns its output, trimmed.
func command(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}
