package devenv

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestReadmeCommands(t *testing.T) {
	root := t.TempDir()
	readme := "# x\n\n## Install\n\ntext\n\n~~~ sh\n# a comment\nIMAGE=''   # set it\nkubectl apply -k deploy/\nkubectl -n kube-system patch deployment coredns \\\n    --patch-file deploy/p.yaml\n\n" +
		"kubectl set image x=\"${IMAGE:?is empty}\" &&\n  deploy/corefile.sh add\n~~~\n\n~~~ sh\nnot this one\n~~~\n\n" +
		"## Deployment\n\n### Uninstall\n\nno block here\n\n### Other\n\n~~~ sh\nother\n~~~\n\n## Empty\n\n~~~ sh\n~~~\n\n## Only\n\n~~~ sh\nIMAGE=''\n~~~\n"
	if err := os.WriteFile(filepath.Join(root, "README.md"), []byte(readme), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadmeCommands(root, "## Install")
	want := []string{"kubectl apply -k deploy/", "kubectl -n kube-system patch deployment coredns --patch-file deploy/p.yaml",
		`kubectl set image x="${IMAGE:?is empty}"`, "deploy/corefile.sh add"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("ReadmeCommands(Install) = %q, %v; want %q", got, err, want)
	}
	for _, heading := range []string{"### Uninstall", "## Empty", "## Only", "## Missing", "### Install"} {
		if got, err := ReadmeCommands(root, heading); err == nil {
			t.Errorf("ReadmeCommands(%q) = %q, want an error", heading, got)
		}
	}
}

func TestRunCommandSetsPlaceholders(t *testing.T) {
	p := Paths{Root: t.TempDir(), BinDir: t.TempDir()}
	vars := map[string]string{"IMAGE": "i:1", "PREVIOUS_IMAGE": "p:0"}
	out, err := p.RunCommand(t.Context(), "/kubeconfig", `echo coredns="${IMAGE:?is empty}" "$PREVIOUS_IMAGE" $KUBECONFIG`, vars)
	if want := "coredns=i:1 p:0 /kubeconfig\n"; err != nil || out != want {
		t.Errorf("RunCommand = %q, %v; want %q", out, err, want)
	}
	// An operator's unedited paste: the variable is empty, and the command stops on it.
	out, err = p.RunCommand(t.Context(), "/kubeconfig", `echo coredns="${IMAGE:?is empty}"`, map[string]string{"IMAGE": ""})
	if err == nil || !strings.Contains(out, "IMAGE: is empty") {
		t.Errorf("RunCommand with IMAGE empty = %q, %v; want it to fail on IMAGE", out, err)
	}
	t.Setenv("IMAGE", "from-the-environment")
	for _, c := range []string{`echo coredns="${IMAGE:?is empty}"`, `echo "$IMAGE"`, "echo coredns=IMAGE"} {
		if out, err := p.RunCommand(t.Context(), "/kubeconfig", c, nil); err == nil {
			t.Errorf("RunCommand(%q) without a value for IMAGE ran: %q", c, out)
		}
	}
}
