//go:build linux

package node

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Install runs the README's install commands in the repository at root, with image for
// IMAGE, as the admin, and waits for CoreDNS's rollout.
func (n *Node) Install(ctx context.Context, root, image string) error {
	cmds, err := readmeInstall(root)
	if err != nil {
		return err
	}
	for _, args := range cmds {
		for i, a := range args {
			args[i] = strings.ReplaceAll(a, "IMAGE", image)
		}
		cmd := Command(ctx, filepath.Join(n.binDir, "kubectl"), append([]string{"--kubeconfig=" + n.AdminKubeconfig()}, args...)...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("the README's kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return n.WaitRollout(ctx, "kube-system", "coredns")
}

// readmeInstall reads the README's install commands.
func readmeInstall(root string) ([][]string, error) {
	data, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		return nil, err
	}
	_, section, ok := strings.Cut(string(data), "\n## Deployment\n")
	_, block, ok2 := strings.Cut(section, "\n~~~ sh\n")
	block, _, ok3 := strings.Cut(block, "\n~~~\n")
	if !ok || !ok2 || !ok3 {
		return nil, fmt.Errorf("README.md: no ~~~ sh block in a ## Deployment section")
	}
	var cmds [][]string
	for _, l := range strings.Split(block, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || f[0] != "kubectl" {
			return nil, fmt.Errorf("README.md: the Deployment commands hold %q, not a kubectl command", l)
		}
		cmds = append(cmds, f[1:])
	}
	return cmds, nil
}
