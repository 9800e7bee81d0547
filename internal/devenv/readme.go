package devenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// The README sections whose `~~~ sh` block the tests run as they are written, so that
// what an operator copies is what was tested. Install and Uninstall run on a cluster
// whose CoreDNS kubeadm made; Upgrade is what to run around `kubeadm upgrade`; Helm
// installs the coredns chart; FlowControl applies deploy/flowcontrol/.
const (
	ReadmeInstall     = "## Install"
	ReadmeUninstall   = "### Uninstall"
	ReadmeUpgrade     = "### kubeadm upgrade"
	ReadmeHelm        = "### Helm"
	ReadmeFlowControl = "### Flow control"
)

// ReadmeCommands returns the shell commands of the first `~~~ sh` block of the README
// section that starts with the line heading (such as ReadmeInstall), one per command:
// comment lines left out, continued lines (ending in a backslash) joined, and a chain of
// commands (lines ending in `&&`) split into its commands, which the tests run one by one.
// Placeholder declarations (NAME= and an empty quoted value, for the operator to fill in)
// are left out: the tests give the values as vars (see ReadmeCommand). It fails when the
// section or its block is missing or empty.
func ReadmeCommands(root, heading string) ([]string, error) {
	block, err := ReadmeBlock(root, heading)
	if err != nil {
		return nil, err
	}
	var cmds []string
	var cont string
	for _, line := range strings.Split(block, "\n") {
		line = cont + line
		if c, ok := strings.CutSuffix(line, "\\"); ok {
			cont = c
			continue
		}
		cont = ""
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") || declaration.MatchString(t) {
			continue
		}
		if c, ok := strings.CutSuffix(t, "&&"); ok {
			t = c
		}
		cmds = append(cmds, strings.Join(strings.Fields(t), " "))
	}
	if len(cmds) == 0 {
		return nil, fmt.Errorf("README.md: section %q has no commands in its ~~~ sh block", heading)
	}
	return cmds, nil
}

// ReadmeBlock returns the text of the first `~~~ sh` block of the README section that
// starts with the line heading, as an operator copies it. It fails when the section or a
// complete block is missing.
func ReadmeBlock(root, heading string) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		return "", err
	}
	_, section, ok := strings.Cut("\n"+string(data), "\n"+heading+"\n")
	if !ok {
		return "", fmt.Errorf("README.md: no section %q", heading)
	}
	level := heading[:strings.IndexByte(heading+" ", ' ')+1] // "## ": the section ends at the next heading of this level or above
	var lines []string
	inBlock := false
	for _, line := range strings.Split(section, "\n") {
		switch {
		case !inBlock && line == "~~~ sh":
			inBlock = true
		case !inBlock && isHeadingUpTo(line, level):
			return "", fmt.Errorf("README.md: section %q has no ~~~ sh block", heading)
		case inBlock && line == "~~~":
			return strings.Join(lines, "\n") + "\n", nil
		case inBlock:
			lines = append(lines, line)
		}
	}
	return "", fmt.Errorf("README.md: section %q has no complete ~~~ sh block", heading)
}

// isHeadingUpTo reports whether line is a Markdown heading of the level of prefix ("## ")
// or a higher one.
func isHeadingUpTo(line, prefix string) bool {
	hashes := len(line) - len(strings.TrimLeft(line, "#"))
	return hashes > 0 && hashes <= len(prefix)-1 && strings.HasPrefix(line[hashes:], " ")
}

// declaration is a README line that declares a placeholder, empty, for the operator to
// fill in: NAME= with an empty quoted value, and an optional comment.
var declaration = regexp.MustCompile(`^[A-Z][A-Z0-9_]*=''(\s+#.*)?$`)

// placeholder is a README placeholder left in a command as a word in capitals, such as
// IMAGE; shellVar is a shell variable's use ($NAME, ${NAME}) or assignment (NAME=), which
// is not one. used is the use of a variable in capitals, such as ${IMAGE:?...} or
// "$PREVIOUS_IMAGE".
var (
	placeholder = regexp.MustCompile(`\b[A-Z][A-Z_]*[A-Z]\b`)
	shellVar    = regexp.MustCompile(`\$\{?\w+|\b\w+=`)
	used        = regexp.MustCompile(`\$\{?([A-Z][A-Z0-9_]*)`)
)

// RunCommand runs a README command with sh, in the repository root, as an operator would
// on the cluster of kubeconfig (see ReadmeCommand), and returns the combined output.
func (p Paths) RunCommand(ctx context.Context, kubeconfig, command string, vars map[string]string) (string, error) {
	cmd, err := p.ReadmeCommand(ctx, kubeconfig, command, vars)
	if err != nil {
		return "", err
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		err = fmt.Errorf("%s: %v\n%s", command, err, out)
	}
	return string(out), err
}

// ReadmeCommand is a README command to run with sh, in the repository root, on the cluster
// of kubeconfig: the programs of BinDir (kubectl, kubeadm) come first on PATH. vars are
// the values of the README's placeholders (such as IMAGE), set in the command's
// environment as the operator's shell variables. A command that uses a variable in
// capitals that vars do not give (but KUBECONFIG and PATH, set here), or that is left
// with a word in capitals that is not a shell variable, is refused: a README value never
// comes from the tests' own environment.
func (p Paths) ReadmeCommand(ctx context.Context, kubeconfig, command string, vars map[string]string) (*exec.Cmd, error) {
	var missing []string
	for _, m := range used.FindAllStringSubmatch(command, -1) {
		if _, ok := vars[m[1]]; !ok && m[1] != "KUBECONFIG" && m[1] != "PATH" {
			missing = append(missing, m[1])
		}
	}
	missing = append(missing, placeholder.FindAllString(shellVar.ReplaceAllString(command, ""), -1)...)
	if len(missing) > 0 {
		return nil, fmt.Errorf("README command %q: no value for %v", command, missing)
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Dir = p.Root
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "PATH="+p.BinDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd, nil
}
