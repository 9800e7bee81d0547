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
	"slices"
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
// make image builds the image's binaries with it, cross-compiled for linux/amd64 and
// linux/arm64, with the same commit.
func TestBuildCommand(t *testing.T) {
	mk := readText(t, "Makefile")
	mustMatch(t, "Makefile", mk, `^coredns:`, "the build command")
	mustMatch(t, "Makefile", mk, `^coredns: coredns-tree$`, "the build in CoreDNS's own tree")
	mustMatch(t, "Makefile", mk, `^\s+CGO_ENABLED=0 go build -C \$\(TREE_DIR\) -trimpath `, "a static build of CoreDNS's tree")
	mustMatch(t, "Makefile", mk, `^\s+GOOS= GOARCH= \$\(NICE\) go run -C tools/tree \. -version \$\(COREDNS_VERSION\) -dir \$\(TREE_DIR\) -plugin \$\(CURDIR\)$`, "the tree with the plugin, checked (tools/tree)")
	mustMatch(t, "Makefile", mk, `-X github\.com/coredns/coredns/coremain\.GitCommit=\$\(GIT_COMMIT\)`, "the commit in -version")

	mustMatch(t, "Makefile", mk, `^IMAGE_PLATFORMS\s+:= linux/amd64 linux/arm64$`, "the image's platforms")
	image := makeRecipe(t, mk, "image")
	for _, expr := range []string{
		`GOOS=\$\$\{p%/\*\} GOARCH=\$\$\{p#\*/\} .*\$\(MAKE\) --no-print-directory coredns`,
		`COREDNS=\$\(IMAGE_DIR\)/\$\$p/coredns GIT_COMMIT=\$\(GIT_COMMIT\)`,
		`go run -C tools/image \. coredns `,
	} {
		mustMatch(t, "Makefile's image recipe", image, expr, "make image builds the binaries with make coredns, one per platform")
	}
}

// makeRecipe returns the recipe of a Makefile target, its command lines joined.
func makeRecipe(t *testing.T, mk, target string) string {
	t.Helper()
	m := regexp.MustCompile(`(?ms)^` + regexp.QuoteMeta(target) + `:[^\n]*\n((?:\t[^\n]*\n)+)`).FindStringSubmatch(mk)
	if m == nil {
		t.Fatalf("Makefile: no target %s with a recipe", target)
	}
	return strings.ReplaceAll(m[1], "\\\n", " ")
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
// the image's linux/arm64 cross build and the host's ./coredns, which must print
// the CoreDNS version it was built at (COREDNS_VERSION, by default versions.txt's) and
// the commit with -version.
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
		version := os.Getenv("K8S_EVENT_COREDNS_VERSION") // make coredns's COREDNS_VERSION
		if version == "" {
			version = defaultVersion(t)
		}
		want0 := "CoreDNS-" + strings.TrimPrefix(version, "v")
		want1 := runtime.GOOS + "/" + runtime.GOARCH + ", " + runtime.Version() + ", " + commit
		if len(lines) < 2 || lines[0] != want0 || lines[1] != want1 {
			t.Errorf("%s -version printed %q, want %q then %q", filepath.Base(host), lines, want0, want1)
		}
	})
}

// workflow is the part of a GitHub Actions workflow this test reads.
type workflow struct {
	On          map[string]any    `yaml:"on"`
	Permissions map[string]string `yaml:"permissions"`
	Jobs        map[string]job    `yaml:"jobs"`
}

// job is a workflow's job.
type job struct {
	Needs       stringList        `yaml:"needs"`
	Permissions map[string]string `yaml:"permissions"`
	Steps       []step            `yaml:"steps"`
}

// step is a job's step.
type step struct {
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	With map[string]string `yaml:"with"`
	Env  map[string]string `yaml:"env"`
}

// stringList is a YAML string or list of strings, as `needs` may be.
type stringList []string

func (l *stringList) UnmarshalYAML(n *yaml3.Node) error {
	if n.Kind == yaml3.ScalarNode {
		*l = stringList{n.Value}
		return nil
	}
	return n.Decode((*[]string)(l))
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

// pinnedUses is a step's `uses:` line with an action pinned by commit and its version in
// a comment.
var pinnedUses = regexp.MustCompile(`^\s*(- )?uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$`)

// localWorkflow is a job's `uses:` line calling a workflow of this repository.
var localWorkflow = regexp.MustCompile(`^\s*uses: \./\.github/workflows/[\w.-]+\.yml$`)

// TestWorkflows: the workflows parse, pin every action by commit and read the repository
// only, unless a job says otherwise; test runs make test.
func TestWorkflows(t *testing.T) {
	entries, err := os.ReadDir(repoPath(".github", "workflows"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		w := readWorkflow(t, e.Name())
		for i, line := range strings.Split(readText(t, ".github", "workflows", e.Name()), "\n") {
			if strings.Contains(line, "uses:") && !pinnedUses.MatchString(line) && !localWorkflow.MatchString(line) {
				t.Errorf("%s:%d: %q: want uses: OWNER/ACTION@COMMIT # vVERSION", e.Name(), i+1, strings.TrimSpace(line))
			}
		}
		if len(w.Permissions) != 1 || w.Permissions["contents"] != "read" {
			t.Errorf("%s: permissions %v, want contents: read (jobs that write say so)", e.Name(), w.Permissions)
		}
	}
	if !runsMakeTest(readWorkflow(t, "test.yml").Jobs["test"]) {
		t.Error("test.yml: its test job does not run make test")
	}
}

// runsMakeTest says whether a job has a step that runs make test.
func runsMakeTest(j job) bool {
	for _, s := range j.Steps {
		if strings.HasSuffix(strings.TrimSpace(s.Run), "make test") {
			return true
		}
	}
	return false
}

// TestReleaseWorkflow: on a tag, make test and the matrix run first and everything else
// needs both; the binaries published are the ones make test's release-check built and
// checked; the default version's image published is the tar make test built and checked,
// pushed by make push-image, then signed and attested keylessly (make sign-image); only
// the GitHub release's job may write, and only the image job get an OIDC token.
func TestReleaseWorkflow(t *testing.T) {
	w := readWorkflow(t, "release.yml")
	push, _ := w.On["push"].(map[string]any)
	if tags, _ := push["tags"].([]any); len(tags) == 0 {
		t.Error("release.yml does not run on tags")
	}
	test, ok := w.Jobs["test"]
	if !ok || !runsMakeTest(test) || len(test.Needs) > 0 {
		t.Fatal("release.yml: no job test that runs make test first")
	}
	var artifact string
	for _, s := range test.Steps {
		if strings.HasPrefix(s.Uses, "actions/upload-artifact@") && s.With["path"] == ".build/image/coredns.tar" {
			artifact = s.With["name"]
		}
	}
	if artifact == "" {
		t.Error("release.yml: the test job does not keep the image it tested (.build/image/coredns.tar)")
	}
	var downloaded bool
	for _, s := range w.Jobs["image"].Steps {
		downloaded = downloaded || strings.HasPrefix(s.Uses, "actions/download-artifact@") && s.With["path"] == ".build/image"
	}
	if !downloaded {
		t.Errorf("release.yml: the image job does not put an image's artifact in .build/image, where make push-image reads it")
	}
	var named bool
	for _, s := range w.Jobs["image"].Steps {
		named = named || strings.Contains(s.Run, "name="+artifact) && strings.Contains(s.Run, "make -s coredns-version")
	}
	if !named {
		t.Errorf("release.yml: the image job does not take the test job's artifact %q for the default CoreDNS version", artifact)
	}
	// needs says whether job name runs after job first, directly or through other jobs.
	var needs func(name, first string, depth int) bool
	needs = func(name, first string, depth int) bool {
		for _, n := range w.Jobs[name].Needs {
			if n == first || depth < len(w.Jobs) && needs(n, first, depth+1) {
				return true
			}
		}
		return false
	}
	for name := range w.Jobs {
		if name == "test" || name == "matrix" {
			continue
		}
		for _, first := range []string{"test", "matrix"} {
			if !needs(name, first, 0) {
				t.Errorf("release.yml: job %s does not need %s: it may publish what %s has not passed", name, first, first)
			}
		}
	}
	var runs []string
	for name, j := range w.Jobs {
		release := name == "release" && len(j.Permissions) == 1 && j.Permissions["contents"] == "write"
		signing := name == "image" && len(j.Permissions) == 2 && j.Permissions["contents"] == "read" && j.Permissions["id-token"] == "write"
		if len(j.Permissions) > 0 && !release && !signing {
			t.Errorf("release.yml: job %s has permissions %v: only the release job writes (contents), only the image job gets an OIDC token (id-token), to sign", name, j.Permissions)
		}
		for _, s := range j.Steps {
			runs = append(runs, s.Run)
			if strings.HasPrefix(s.Uses, "docker/") {
				t.Errorf("release.yml: job %s uses %s: the image is make image's", name, s.Uses)
			}
		}
	}
	has := func(expr string) bool {
		for _, r := range runs {
			if regexp.MustCompile(expr).MatchString(r) {
				return true
			}
		}
		return false
	}
	// The binaries published are release-check's, for the tag and every release platform
	// (make test alone checks the linux ones), from the test job.
	platforms := regexp.MustCompile(`(?m)^RELEASE_PLATFORMS\s+:= (.+)$`).FindStringSubmatch(readText(t, "Makefile"))
	if platforms == nil {
		t.Fatal("Makefile: no RELEASE_PLATFORMS")
	}
	var binaries string
	for _, st := range test.Steps {
		if strings.Contains(st.Run, "make test") && st.Env["RELEASE_CHECK_PLATFORMS"] != platforms[1] {
			t.Errorf("release.yml: the test job's make test checks the archives for %q, not for every release platform (RELEASE_CHECK_PLATFORMS %q)", st.Env["RELEASE_CHECK_PLATFORMS"], platforms[1])
		}
		if strings.HasPrefix(st.Uses, "actions/upload-artifact@") && st.With["path"] == ".build/release-check/coredns-k8s_event-*" {
			binaries = st.With["name"]
		}
		if strings.Contains(st.Run, "make test") && st.Env["RELEASE_CHECK_VERSION"] != "${{ github.ref_name }}" {
			t.Error("release.yml: the test job's make test does not build release-check's archives for the tag (RELEASE_CHECK_VERSION)")
		}
	}
	var published bool
	for _, st := range w.Jobs["release"].Steps {
		published = published || binaries != "" && strings.HasPrefix(st.Uses, "actions/download-artifact@") && st.With["name"] == binaries && st.With["path"] == "dist"
	}
	if !published {
		t.Errorf("release.yml: the release job does not publish the archives the test job checked (artifact %q of .build/release-check)", binaries)
	}
	if has(`make (release-binaries|coredns)\b`) {
		t.Error("release.yml builds binaries of its own: publish the ones make test checked")
	}
	// Nothing is published before govulncheck passed on the live database.
	var vulncheck bool
	for _, st := range w.Jobs["vulncheck"].Steps {
		vulncheck = vulncheck || strings.HasPrefix(strings.TrimSpace(st.Run), "make vulncheck VULNDB=https://vuln.go.dev ")
	}
	if !vulncheck {
		t.Error("release.yml: no job vulncheck that runs make vulncheck VULNDB=https://vuln.go.dev")
	}
	for _, name := range []string{"release", "image"} {
		if !slices.Contains(w.Jobs[name].Needs, "vulncheck") {
			t.Errorf("release.yml: job %s does not need vulncheck: it may publish what govulncheck stops", name)
		}
	}
	// Each image is signed and attested where it was pushed, verified against this
	// workflow's identity.
	var pushed, signed bool
	for _, st := range w.Jobs["image"].Steps {
		pushed = pushed || strings.Contains(st.Run, "make push-image ")
		signed = signed || pushed && strings.Contains(st.Run, "make sign-image ") && strings.Contains(st.Run, "/.github/workflows/release.yml@$GITHUB_REF") &&
			strings.Contains(st.Run, "CERT_ISSUER=https://token.actions.githubusercontent.com")
	}
	if !signed {
		t.Error("release.yml: the image job does not sign each image after pushing it (make sign-image, keyless, verified against release.yml's identity)")
	}
	if !has(`(?m)^\s*make push-image `) {
		t.Error("release.yml does not publish the image with make push-image")
	}
	if has(`make image\b`) {
		t.Error("release.yml builds an image of its own: publish the one make test built")
	}
	if has(`--generate-notes`) || !has(`(?m)^\s*tools/release-notes\.sh "\$GITHUB_REF_NAME" > "(\S+)"\n\s*gh release create .*\n.*--notes-file "\S+"`) {
		t.Error("release.yml: the GitHub release's text is not the tag's section of CHANGELOG.md (tools/release-notes.sh, gh release create --notes-file)")
	}
	if s := w.Jobs["test"].Steps; !slices.ContainsFunc(s, func(s step) bool { return strings.HasPrefix(s.Run, "tools/release-notes.sh ") }) {
		t.Error("release.yml: the test job does not check first that CHANGELOG.md has the tag's section")
	}
}
