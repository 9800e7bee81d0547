package main

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// recipe is what one platform's image holds: its files, in one layer, and its config.
type recipe struct {
	files  []file
	config v1.Config
}

// file is a regular file of a layer, owned by root. Its parent directories are added to
// the layer, 0755 and owned by root.
type file struct {
	path string // in the image, without the leading slash
	src  string // on the build machine
	mode int64
	// capability, when set, is the file's security.capability attribute (fileCapability).
	capability []byte
}

// The user CoreDNS runs as: distroless's "nonroot", kubeadm's CoreDNS image's user.
const coreDNSUser = "65532:65532"

// caPackage is the Debian package the CA bundle comes from, as the build machine has it
// installed: the bundle, update-ca-certificates' concatenation of the package's
// certificates, and the package's dpkg status stanza and copyright file, which name its
// version and licences. The image carries the last two where distroless images do
// (status.d, one file per package), so that an SBOM generator or a scanner reading the
// image alone finds the package.
type caPackage struct {
	bundle, status, copyright string // files on the build machine
}

// The CA bundle's Debian package, and where the image holds its files.
const (
	caPackageName   = "ca-certificates"
	caBundlePath    = "etc/ssl/certs/ca-certificates.crt"
	dpkgStatusDir   = "var/lib/dpkg/status.d/"
	debCopyrightFmt = "usr/share/doc/%s/copyright"
)

// coreDNS is CoreDNS with kubeapi and k8s_event: the static binary and the CA bundle (for
// the API server and any forward over TLS) with its package's metadata, nothing else. It
// runs as a non-root user, and the binary's file capability lets that user bind port 53,
// also under kubeadm's securityContext (drop ALL, add NET_BIND_SERVICE, no privilege
// escalation).
func coreDNS(binary string, ca caPackage) recipe {
	return recipe{
		files: []file{
			{path: "coredns", src: binary, mode: 0o755, capability: fileCapability(capNetBindService)},
			{path: caBundlePath, src: ca.bundle, mode: 0o644},
			{path: dpkgStatusDir + caPackageName, src: ca.status, mode: 0o644},
			{path: fmt.Sprintf(debCopyrightFmt, caPackageName), src: ca.copyright, mode: 0o644},
		},
		config: v1.Config{
			User:         coreDNSUser,
			Entrypoint:   []string{"/coredns"},
			ExposedPorts: map[string]struct{}{"53/tcp": {}, "53/udp": {}},
		},
	}
}

// The user the Kubernetes pause image runs as.
const pauseUser = "65535:65535"

// pause is a Pod sandbox image (containerd's sandbox_image): the program in pause/, which
// holds the Pod's namespaces, reaps orphans and exits on SIGTERM or SIGINT.
func pause(binary string) recipe {
	return recipe{
		files: []file{{path: "pause", src: binary, mode: 0o755}},
		config: v1.Config{
			User:       pauseUser,
			Entrypoint: []string{"/pause"},
		},
	}
}

// dnsProbe is the node tests' DNS client (internal/devenv/cmd/dnsprobe): the program
// alone, run as a non-root user; it resolves through the Pod's /etc/resolv.conf.
func dnsProbe(binary string) recipe {
	return recipe{
		files: []file{{path: "dnsprobe", src: binary, mode: 0o755}},
		config: v1.Config{
			User:       coreDNSUser,
			Entrypoint: []string{"/dnsprobe"},
		},
	}
}
