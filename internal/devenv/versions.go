package devenv

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// versionsFile lists the supported CoreDNS versions, relative to the repository.
const versionsFile = "tools/tree/versions.txt"

// SupportedVersion is a CoreDNS version the plugin supports, with the Kubernetes minor
// whose kubeadm pins it and the release it was read from ("" for the newest CoreDNS
// release, which none pins yet).
type SupportedVersion struct {
	CoreDNS    string // v1.14.6
	Kubernetes string // 1.37
	Release    string // v1.37.2
}

// SupportedVersions reads the supported CoreDNS versions, oldest first.
func (p Paths) SupportedVersions() ([]SupportedVersion, error) {
	data, err := os.ReadFile(filepath.Join(p.Root, versionsFile))
	if err != nil {
		return nil, err
	}
	return parseVersions(data)
}

// parseVersions parses versions.txt: "VERSION MINOR RELEASE" lines, "- -" for none;
// lines starting with # and empty lines are comments.
func parseVersions(data []byte) ([]SupportedVersion, error) {
	var out []SupportedVersion
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 || !strings.HasPrefix(f[0], "v") || (f[1] == "-") != (f[2] == "-") {
			return nil, fmt.Errorf("%s:%d: want \"vX.Y.Z MINOR vRELEASE\" or \"vX.Y.Z - -\", got %q", versionsFile, n, line)
		}
		v := SupportedVersion{CoreDNS: f[0]}
		if f[1] != "-" {
			v.Kubernetes, v.Release = f[1], f[2]
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s lists no version", versionsFile)
	}
	return out, nil
}

// DefaultCoreDNSVersion returns the version make coredns builds by default: the one
// kubeadm pins for the newest Kubernetes minor listed.
func (p Paths) DefaultCoreDNSVersion() (string, error) {
	vs, err := p.SupportedVersions()
	if err != nil {
		return "", err
	}
	def := ""
	for _, v := range vs {
		if v.Kubernetes != "" {
			def = v.CoreDNS
		}
	}
	if def == "" {
		return "", fmt.Errorf("%s: no version pinned by a Kubernetes minor", versionsFile)
	}
	return def, nil
}
