package devenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readOnly matches the calls a README block may make before its placeholders are set:
// reading the cluster, and kubeadm's plan, which changes nothing.
var readOnly = regexp.MustCompile(`^(kubectl( -n \S+)? get |kubeadm upgrade plan )`)

// TestReadmeUneditedPasteChangesNothing pastes each README block that has placeholders,
// unedited, into an interactive bash, which goes on after a failed command as an
// operator's terminal does, with kubectl, kubeadm, helm and deploy/corefile.sh recording
// their calls: nothing but a read may run. With the placeholders filled in, every program
// the block names runs, so the recording can fail the test.
func TestReadmeUneditedPasteChangesNothing(t *testing.T) {
	root, err := findRoot()
	if err != nil {
		t.Fatal(err)
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal(err)
	}
	for _, heading := range []string{ReadmeInstall, ReadmeUninstall, ReadmeUpgrade, ReadmeHelm} {
		block, err := ReadmeBlock(root, heading)
		if err != nil {
			t.Fatal(err)
		}
		if !declarationLine.MatchString(block) {
			t.Errorf("README section %q declares no placeholder (NAME='')", heading)
			continue
		}
		for _, call := range paste(t, bash, block) {
			if !readOnly.MatchString(call) {
				t.Errorf("README section %q, pasted unedited, ran %q", heading, call)
			}
		}
		filled := declarationLine.ReplaceAllString(block, "${1}='filled-in'")
		calls := paste(t, bash, filled)
		for _, program := range []string{"kubectl", "kubeadm", "helm", "deploy/corefile.sh", "deploy/image.sh"} {
			if strings.Contains(block, program+" ") && !hasCall(calls, program+" ") {
				t.Errorf("README section %q, filled in, never ran %s; it ran %q", heading, program, calls)
			}
		}
	}
}

// declarationLine is a placeholder's declaration in a README block, at the start of a line.
var declarationLine = regexp.MustCompile(`(?m)^([A-Z][A-Z0-9_]*)=''`)

// paste runs script as lines typed into an interactive bash, in a directory of its own
// whose deploy/corefile.sh and deploy/image.sh, and PATH's kubectl, kubeadm and helm, only record their
// calls, and returns the calls.
func paste(t *testing.T, bash, script string) []string {
	t.Helper()
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	record := "#!/bin/sh\nprintf '%s\\n' \"$0 $*\" | sed 's|^.*/bin/||; s|^.*/deploy/|deploy/|' >> " + calls + "\n"
	for _, f := range []string{"bin/kubectl", "bin/kubeadm", "bin/helm", "deploy/corefile.sh", "deploy/image.sh"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte(record), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bash, "--norc", "--noprofile", "-i")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(script)
	cmd.Env = []string{"PATH=" + filepath.Join(dir, "bin") + ":/usr/bin:/bin", "HOME=" + dir}
	// Its exit status is the last command's, which fails in an unedited paste.
	if out, err := cmd.CombinedOutput(); err != nil && cmd.ProcessState == nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	data, err := os.ReadFile(calls)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

// hasCall reports whether one of calls starts with prefix.
func hasCall(calls []string, prefix string) bool {
	for _, c := range calls {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}
