package check

import (
	"bytes"
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	yaml3 "go.yaml.in/yaml/v3"
)

// readText reads a repository file.
func readText(t *testing.T, elem ...string) string {
	t.Helper()
	data, err := os.ReadFile(repoPath(elem...))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// mustMatch fails unless text has a line matching the regular expression.
func mustMatch(t *testing.T, name, text, expr, why string) {
	t.Helper()
	if !regexp.MustCompile(`(?m)` + expr).MatchString(text) {
		t.Errorf("%s: no line matches %s: %s", name, expr, why)
	}
}

// TestBuildCommand: the Makefile's coredns target is the static build with the commit, and
// deploy/Dockerfile runs that target, cross-compiling on the build platform.
func TestBuildCommand(t *testing.T) {
	mk := readText(t, "Makefile")
	mustMatch(t, "Makefile", mk, `^coredns:`, "the build command")
	mustMatch(t, "Makefile", mk, `^\s+CGO_ENABLED=0 go build -C cmd/coredns `, "a static build of cmd/coredns")
	mustMatch(t, "Makefile", mk, `-X github\.com/coredns/coredns/coremain\.GitCommit=\$\(GIT_COMMIT\)`, "the commit in -version")

	df := readText(t, "deploy", "Dockerfile")
	mustMatch(t, "deploy/Dockerfile", df, `^FROM --platform=\$BUILDPLATFORM \S+ AS build$`, "the build stage runs natively")
	mustMatch(t, "deploy/Dockerfile", df, `^ARG TARGETOS$`, "the target platform")
	mustMatch(t, "deploy/Dockerfile", df, `^ARG TARGETARCH$`, "the target platform")
	mustMatch(t, "deploy/Dockerfile", df, `GOOS=\$TARGETOS GOARCH=\$TARGETARCH make coredns COREDNS=\S+ GIT_COMMIT=\$GIT_COMMIT`, "the Makefile's build command, cross-compiled")
	stages := regexp.MustCompile(`(?m)^FROM .*$`).FindAllString(df, -1)
	if len(stages) == 0 || stages[len(stages)-1] != "FROM scratch" {
		t.Errorf("deploy/Dockerfile: stages %q, want the last FROM scratch (nothing but the static binary)", stages)
	}
	users := regexp.MustCompile(`(?m)^USER (\d+):(\d+)$`).FindAllStringSubmatch(df, -1)
	if len(users) != 1 || users[0][1] == "0" || users[0][2] == "0" {
		t.Errorf("deploy/Dockerfile: USER lines %q, want one numeric non-root user and group", users)
	}
}

// coreDNSVersion is the CoreDNS version cmd/coredns/go.mod pins, e.g. "1.15.0".
func coreDNSVersion(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*github\.com/coredns/coredns v(\S+)`).FindStringSubmatch(readText(t, "cmd", "coredns", "go.mod"))
	if m == nil {
		t.Fatal("cmd/coredns/go.mod does not require github.com/coredns/coredns")
	}
	return m[1]
}

// checkStatic checks that an ELF executable for machine has no interpreter and no
// shared libraries, and holds the commit string.
func checkStatic(t *testing.T, path string, machine elf.Machine, commit string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != machine {
		t.Errorf("%s is for %v, want %v", path, f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s is dynamically linked: it has an interpreter", path)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("%s needs shared libraries %q (%v)", path, libs, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(commit)) {
		t.Errorf("%s does not contain the commit %q", path, commit)
	}
}

// hostMachines maps GOARCH to ELF machines, for the host build's check.
var hostMachines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// TestBinaries checks what `make coredns` built, when make deploy-check passes the paths:
// the linux/arm64 cross build (as for the image) and the host's ./coredns, which must print
// the pinned CoreDNS version and the commit with -version.
func TestBinaries(t *testing.T) {
	cross, host, commit := os.Getenv("K8S_EVENT_CROSS_COREDNS"), os.Getenv("K8S_EVENT_COREDNS"), os.Getenv("K8S_EVENT_GIT_COMMIT")
	if cross == "" && host == "" {
		t.Skip("no binaries given: make deploy-check builds them and runs this test")
	}
	if commit == "" {
		t.Fatal("K8S_EVENT_GIT_COMMIT is not set")
	}
	if cross != "" {
		t.Run("linux/arm64", func(t *testing.T) { checkStatic(t, cross, elf.EM_AARCH64, commit) })
	}
	if host == "" {
		return
	}
	t.Run(runtime.GOOS+"/"+runtime.GOARCH, func(t *testing.T) {
		if m, ok := hostMachines[runtime.GOARCH]; ok && runtime.GOOS == "linux" {
			checkStatic(t, host, m, commit)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, host, "-version").CombinedOutput()
		if err != nil {
			t.Fatalf("%s -version: %v\n%s", host, err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		want0 := "CoreDNS-" + coreDNSVersion(t)
		want1 := runtime.GOOS + "/" + runtime.GOARCH + ", " + runtime.Version() + ", " + commit
		if len(lines) < 2 || lines[0] != want0 || lines[1] != want1 {
			t.Errorf("%s -version printed %q, want %q then %q", filepath.Base(host), lines, want0, want1)
		}
	})
}

// workflow is the part of a GitHub Actions workflow this test reads.
type workflow struct {
	On   map[string]any `yaml:"on"`
	Jobs map[string]struct {
		Steps []struct {
			Uses string            `yaml:"uses"`
			Run  string            `yaml:"run"`
			With map[string]string `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

// readWorkflow parses .github/workflows/name (YAML 1.2, where `on` is a string).
func readWorkflow(t *testing.T, name string) *workflow {
	t.Helper()
	var w workflow
	if err := yaml3.Unmarshal([]byte(readText(t, ".github", "workflows", name)), &w); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(w.On) == 0 || len(w.Jobs) == 0 {
		t.Fatalf("%s: no triggers or no jobs", name)
	}
	return &w
}

// TestWorkflows: the workflows parse; test runs make test; release runs on tags, builds
// the release binaries with make coredns and the image from deploy/Dockerfile for
// linux/amd64 and linux/arm64 with buildx.
func TestWorkflows(t *testing.T) {
	entries, err := os.ReadDir(repoPath(".github", "workflows"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		readWorkflow(t, e.Name())
	}

	var runs, uses []string
	with := map[string]map[string]string{}
	collect := func(w *workflow) {
		runs, uses, with = nil, nil, map[string]map[string]string{}
		for _, j := range w.Jobs {
			for _, s := range j.Steps {
				runs = append(runs, s.Run)
				action, _, _ := strings.Cut(s.Uses, "@")
				uses = append(uses, action)
				with[action] = s.With
			}
		}
	}
	has := func(list []string, pred func(string) bool) bool {
		for _, s := range list {
			if pred(s) {
				return true
			}
		}
		return false
	}

	collect(readWorkflow(t, "test.yml"))
	if !has(runs, func(s string) bool { return strings.TrimSpace(s) == "make test" }) {
		t.Error("test.yml does not run make test")
	}

	w := readWorkflow(t, "release.yml")
	push, _ := w.On["push"].(map[string]any)
	if tags, _ := push["tags"].([]any); len(tags) == 0 {
		t.Error("release.yml does not run on tags")
	}
	collect(w)
	if !has(runs, func(s string) bool { return strings.Contains(s, "make coredns ") }) {
		t.Error("release.yml does not build the binaries with make coredns")
	}
	for _, a := range []string{"docker/setup-buildx-action", "docker/build-push-action"} {
		if !has(uses, func(s string) bool { return s == a }) {
			t.Errorf("release.yml does not use %s", a)
		}
	}
	bp := with["docker/build-push-action"]
	if bp["file"] != "deploy/Dockerfile" || bp["platforms"] != "linux/amd64,linux/arm64" {
		t.Errorf("release.yml builds the image with %v, want file deploy/Dockerfile for platforms linux/amd64,linux/arm64", bp)
	}
}
