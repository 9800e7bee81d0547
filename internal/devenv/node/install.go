//go:build linux

package node

import (
	"context"
	"fmt"
	"os/exec"
	"strings"

	"github.com/coredns/k8s_event/internal/devenv"
)

// Install runs the README's install commands (section devenv.ReadmeInstall) as the admin
// inside the node's network, and waits for CoreDNS's rollout. image is the plugin's image
// the Makefile built, REPOSITORY:vCOREDNS-k8s_event.X.Y.Z: the README's REPOSITORY and
// RELEASE are its repository and vX.Y.Z, and the install, which names the image for the
// CoreDNS version kubeadm's image runs (deploy/image.sh), must set exactly image.
func (n *Node) Install(ctx context.Context, paths devenv.Paths, image string) error {
	i := strings.LastIndexByte(image, ':')
	repository, tag := image[:max(i, 0)], image[i+1:]
	_, plugin, found := strings.Cut(tag, "-k8s_event.")
	if i < strings.LastIndexByte(image, '/') || !found {
		return fmt.Errorf("image %s: want REPOSITORY:vCOREDNS-k8s_event.X.Y.Z", image)
	}
	vars := map[string]string{"REPOSITORY": repository, "RELEASE": "v" + plugin}
	if err := n.RunReadme(ctx, paths, devenv.ReadmeInstall, vars, nil); err != nil {
		return err
	}
	out, err := n.Kubectl(ctx, "-n", "kube-system", "get", "deployment", "coredns", "-o",
		`jsonpath={.spec.template.spec.containers[?(@.name=="coredns")].image}`)
	if err != nil {
		return err
	}
	if got := strings.TrimSpace(out); got != image {
		return fmt.Errorf("the README's install set the image %s, want %s", got, image)
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
