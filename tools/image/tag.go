package main

import (
	"fmt"
	"regexp"
	"strings"
)

// semver is a version as this project's releases and CoreDNS's are written:
// vMAJOR.MINOR.PATCH, with a -SUFFIX for a pre-release (v1.2.0-rc.1) or a build between
// releases (git describe's v1.2.0-3-g0123456789ab).
var semver = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)

// tagInfix joins the CoreDNS version and the plugin's version in an image tag. No CoreDNS
// version has it, so kubeadm, which reads the tag of CoreDNS's image as the running
// CoreDNS version, never finds the tag among the versions it can migrate from.
const tagInfix = "-k8s_event."

// releaseTag returns the image tag of CoreDNS coredns with the plugin at version plugin:
// v1.15.0-k8s_event.1.2.0 for plugin v1.2.0 on CoreDNS v1.15.0. It names both versions,
// and it is never a CoreDNS version: kubeadm's CoreDNS checks stop on it with "start
// version '1.15.0-k8s_event.1.2.0' not supported" instead of taking it for one.
func releaseTag(plugin, coredns string) (string, error) {
	if !semver.MatchString(plugin) {
		return "", fmt.Errorf("plugin version %q: want vMAJOR.MINOR.PATCH, or vMAJOR.MINOR.PATCH-SUFFIX", plugin)
	}
	if !semver.MatchString(coredns) {
		return "", fmt.Errorf("CoreDNS version %q: want vMAJOR.MINOR.PATCH, or vMAJOR.MINOR.PATCH-SUFFIX", coredns)
	}
	tag := coredns + tagInfix + strings.TrimPrefix(plugin, "v")
	if len(tag) > 128 { // the longest tag the OCI distribution spec allows
		return "", fmt.Errorf("image tag %q is longer than 128 characters", tag)
	}
	return tag, nil
}
