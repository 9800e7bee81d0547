package devenv

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestReadmeCommands(t *testing.T) {
	root := t.TempDir()
	readme := "# x\n\n## Install\n\ntext\n\n~~~ sh\n# a comment\nkubectl apply -k deploy/\nkubectl -n kube-system patch deployment coredns \\\n    --patch-file deploy/p.yaml\n\ndeploy/corefile.sh add\n~~~\n\n~~~ sh\nnot this one\n~~~\n\n" +
		"## Deployment\n\n### Uninstall\n\nno block here\n\n### Other\n\n~~~ sh\nother\n~~~\n\n## Empty\n\n~~~ sh\n~~~\n"
	if err := os.WriteFile(filepath.Join(root, "README.md"), []byte(readme), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadmeCommands(root, "## Install")
	want := []string{"kubectl apply -k deploy/", "kubectl -n kube-system patch deployment coredns --patch-file deploy/p.yaml", "deploy/corefile.sh add"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("ReadmeCommands(Install) = %q, %v; want %q", got, err, want)
	}
	for _, heading := range []string{"### Uninstall", "## Empty", "## Missing", "### Install"} {
		if got, err := ReadmeCommands(root, heading); err == nil {
			t.Errorf("ReadmeCommands(%q) = %q, want an error", heading, got)
		}
	}
}

func TestRunCommandReplacesPlaceholders(t *testing.T) {
	p := Paths{Root: t.TempDir(), BinDir: t.TempDir()}
	out, err := p.RunCommand(t.Context(), "/kubeconfig", "echo coredns=IMAGE PREVIOUS_IMAGE $KUBECONFIG", map[string]string{"IMAGE": "i:1", "PREVIOUS_IMAGE": "p:0"})
	if want := "coredns=i:1 p:0 /kubeconfig\n"; err != nil || out != want {
		t.Errorf("RunCommand = %q, %v; want %q", out, err, want)
	}
	if _, err := p.RunCommand(t.Context(), "/kubeconfig", "echo coredns=IMAGE", nil); err == nil {
		t.Error("RunCommand ran a command with a placeholder left")
	}
}
