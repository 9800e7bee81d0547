//go:build linux

package node

import (
	"context"
	"fmt"
	"os/exec"

	"github.com/coredns/k8s_event/internal/devenv"
)

// Install runs the README's install commands (section devenv.ReadmeInstall), with image
// for IMAGE, as the admin inside the node's network, and waits for CoreDNS's rollout.
func (n *Node) Install(ctx context.Context, paths devenv.Paths, image string) error {
	if err := n.RunReadme(ctx, paths, devenv.ReadmeInstall, map[string]string{"IMAGE": image}, nil); err != nil {
		return err
	}
	return n.WaitRollout(ctx, "kube-system", "coredns")
}

// RunReadme runs the commands of the README's section heading as the admin inside the
// node's network, each as devenv.Paths.ReadmeCommand prepares it, with vars for its
// placeholders. after, if not nil, runs after each command, before the next.
func (n *Node) RunReadme(ctx context.Context, paths devenv.Paths, heading string, vars map[string]string, after func() error) error {
	cmds, err := devenv.ReadmeCommands(paths.Root, heading)
	if err != nil {
		return err
	}
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		return err
	}
	for _, c := range cmds {
		cmd, err := paths.ReadmeCommand(ctx, n.AdminKubeconfig(), c, vars)
		if err != nil {
			return err
		}
		cmd.Args = append(append(append([]string{nsenter}, nsenterArgs()...), "--"), cmd.Args...)
		cmd.Path = nsenter
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("the README's %q: %v\n%s", c, err, out)
		}
		if after != nil {
			if err := after(); err != nil {
				return fmt.Errorf("after the README's %q: %w", c, err)
			}
		}
	}
	return nil
}
