package check

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	yaml3 "go.yaml.in/yaml/v3"
)

// supported is a line of tools/tree/versions.txt: a supported CoreDNS version, the
// Kubernetes minor whose kubeadm pins it and the release it was read from (both empty for
// the newest CoreDNS release).
type supported struct{ coredns, minor, release string }

var (
	versionLine = regexp.MustCompile(`^(v\d+\.\d+\.\d+) (?:(\d+\.\d+) (v\d+\.\d+\.\d+)|- -)$`)
	semverParts = regexp.MustCompile(`^v(\d+)\.(\d+)\.(\d+)$`)
)

// supportedVersions reads tools/tree/versions.txt and checks its form: every line a
// version, oldest first, the Kubernetes minors rising, the release of each in its minor,
// and the unpinned newest release last.
func supportedVersions(t *testing.T) []supported {
	t.Helper()
	var out []supported
	for i, line := range strings.Split(readText(t, "tools", "tree", "versions.txt"), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := versionLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("tools/tree/versions.txt:%d: %q: want \"vX.Y.Z MINOR vRELEASE\" or \"vX.Y.Z - -\"", i+1, line)
		}
		if m[2] != "" && !strings.HasPrefix(m[3], "v"+m[2]+".") {
			t.Errorf("tools/tree/versions.txt:%d: release %s is not of Kubernetes %s", i+1, m[3], m[2])
		}
		if n := len(out); n > 0 && !(versionKey(out[n-1].coredns) < versionKey(m[1])) {
			t.Errorf("tools/tree/versions.txt:%d: %s after %s: want the versions oldest first", i+1, m[1], out[n-1].coredns)
		}
		if n := len(out); n > 0 && out[n-1].minor == "" {
			t.Errorf("tools/tree/versions.txt:%d: a version after the unpinned newest release", i+1)
		}
		out = append(out, supported{m[1], m[2], m[3]})
	}
	if len(out) == 0 {
		t.Fatal("tools/tree/versions.txt lists no version")
	}
	return out
}

// versionKey orders vX.Y.Z versions as strings.
func versionKey(v string) string {
	m := semverParts.FindStringSubmatch(v)
	if m == nil {
		return v
	}
	var n [3]int
	for i := range n {
		fmt.Sscan(m[i+1], &n[i])
	}
	return fmt.Sprintf("%06d.%06d.%06d", n[0], n[1], n[2])
}

// defaultVersion is the CoreDNS version make coredns builds by default: the newest
// Kubernetes minor's.
func defaultVersion(t *testing.T) string {
	t.Helper()
	def := ""
	for _, v := range supportedVersions(t) {
		if v.minor != "" {
			def = v.coredns
		}
	}
	if def == "" {
		t.Fatal("tools/tree/versions.txt: no version a Kubernetes minor pins")
	}
	return def
}

// TestKubeadmPin: the versions file's entry for the Kubernetes release this repository
// builds kubeadm from (tools/kube) is the CoreDNS version that kubeadm pins, read from its
// source in the module cache, and the Makefile builds that version by default.
func TestKubeadmPin(t *testing.T) {
	kube := command(t, "go", "list", "-C", repoPath("tools", "kube"), "-m", "-f", "{{.Version}}", "k8s.io/kubernetes")
	download := exec.Command("go", "mod", "download", "-json", "k8s.io/kubernetes@"+kube)
	download.Dir = t.TempDir() // outside any module: no go.mod or go.sum changes
	out, err := download.Output()
	if err != nil {
		t.Fatalf("go mod download k8s.io/kubernetes@%s: %v", kube, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download k8s.io/kubernetes@%s: no directory (%v)", kube, err)
	}
	src, err := os.ReadFile(filepath.Join(mod.Dir, "cmd", "kubeadm", "app", "constants", "constants.go"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*CoreDNSVersion = "(v[^"]+)"`).FindSubmatch(src)
	if m == nil {
		t.Fatalf("kubeadm %s's constants.go has no CoreDNSVersion", kube)
	}
	var entry *supported
	for _, v := range supportedVersions(t) {
		if v.release == kube {
			entry = &v
		}
	}
	switch {
	case entry == nil:
		t.Errorf("tools/tree/versions.txt has no line for Kubernetes %s (tools/kube), whose kubeadm pins CoreDNS %s", kube, m[1])
	case entry.coredns != string(m[1]):
		t.Errorf("tools/tree/versions.txt: Kubernetes %s pins CoreDNS %s, kubeadm's constants.go says %s", kube, entry.coredns, m[1])
	}
	if def := defaultVersion(t); def != string(m[1]) {
		t.Errorf("make coredns builds CoreDNS %s by default; kubeadm %s, the newest this repository tests, pins %s", def, kube, m[1])
	}
}

// matrixWorkflow is the part of a workflow with a job matrix over CoreDNS versions.
type matrixWorkflow struct {
	Jobs map[string]struct {
		Uses     string         `yaml:"uses"`
		With     map[string]any `yaml:"with"`
		Strategy struct {
			Matrix struct {
				Version []string `yaml:"version"`
			} `yaml:"matrix"`
		} `yaml:"strategy"`
	} `yaml:"jobs"`
}

// TestEveryVersionIsTested: the matrix workflow runs make matrix for each supported
// version and no other, the release publishes an image for each and needs the matrix
// first, and the README's Compatibility table has a row for each.
func TestEveryVersionIsTested(t *testing.T) {
	var want []string
	for _, v := range supportedVersions(t) {
		want = append(want, v.coredns)
	}
	read := func(name string) matrixWorkflow {
		var w matrixWorkflow
		if err := yaml3.Unmarshal([]byte(readText(t, ".github", "workflows", name)), &w); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return w
	}
	m := read("matrix.yml").Jobs["matrix"]
	if got := m.Strategy.Matrix.Version; !slices.Equal(got, want) {
		t.Errorf("matrix.yml: job matrix runs versions %q, want tools/tree/versions.txt's %q", got, want)
	}
	if !strings.Contains(readText(t, ".github", "workflows", "matrix.yml"), `make matrix MATRIX_VERSIONS="$COREDNS"`) {
		t.Error(`matrix.yml does not run make matrix MATRIX_VERSIONS="$COREDNS"`)
	}
	r := read("release.yml")
	if j := r.Jobs["matrix"]; j.Uses != "./.github/workflows/matrix.yml" || j.With["images"] != true {
		t.Errorf("release.yml: job matrix uses %q with %v, want ./.github/workflows/matrix.yml with images: true", j.Uses, j.With)
	}
	if got := r.Jobs["image"].Strategy.Matrix.Version; !slices.Equal(got, want) {
		t.Errorf("release.yml: the image job publishes versions %q, want %q", got, want)
	}

	release := newestRelease.FindStringSubmatch(readText(t, "CHANGELOG.md"))
	if release == nil {
		t.Fatal("CHANGELOG.md: no section ## [X.Y.Z]")
	}
	readme := readText(t, "README.md")
	for _, v := range supportedVersions(t) {
		minor := v.minor
		if minor == "" {
			minor = "none"
		}
		tag := releaseTag(t, "v"+release[1], v.coredns)
		row := regexp.MustCompile(`(?m)^\| ` + regexp.QuoteMeta(minor) + ` \| ` + regexp.QuoteMeta(v.coredns) + ` \| ` +
			"`" + regexp.QuoteMeta(tag) + "`" + ` \| \S.* \|$`)
		if !row.MatchString(readme) {
			t.Errorf("README.md's Compatibility table has no row | %s | %s | `%s` | MEASURED |", minor, v.coredns, tag)
		}
	}
}
