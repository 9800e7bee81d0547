package devenv

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// ReleaseTag returns the image tag the release gives plugin version plugin on CoreDNS
// version coredns (or, when coredns is empty, on the CoreDNS make coredns builds by
// default, DefaultCoreDNSVersion), from the
// release's own tag function: `go run ./tools/image tag`, as make image and make
// push-image run it.
func (p Paths) ReleaseTag(ctx context.Context, plugin, coredns string) (string, error) {
	if coredns == "" {
		v, err := p.DefaultCoreDNSVersion()
		if err != nil {
			return "", err
		}
		coredns = v
	}
	out, err := exec.CommandContext(ctx, "go", "run", "-C", filepath.Join(p.Root, "tools", "image"), ".", "tag", "-version", plugin, "-coredns", coredns).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("tools/image tag -version %s -coredns %s: %v\n%s", plugin, coredns, err, out)
	}
	return strings.TrimSpace(string(out)), nil
}
