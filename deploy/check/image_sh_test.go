package check

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// imageSh runs deploy/image.sh verb repository version with the stand-in kubectl, whose
// coredns container runs running; it returns the output, the error, and the image the
// container runs afterwards.
func imageSh(t *testing.T, running, verb, repository, version string) (out string, err error, after string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "image")
	if err := os.WriteFile(file, []byte(running), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = runScript(t, []string{fakeImageEnv + "=" + file}, "image.sh", verb, repository, version)
	data, rerr := os.ReadFile(file)
	if rerr != nil {
		t.Fatal(rerr)
	}
	return out, err, string(data)
}

// TestImageScriptNamesTheRunningVersion: image.sh names the plugin's image for the CoreDNS
// version of the running image, read from every tag form a CoreDNS image has (kubeadm's
// v1.14.6, Docker Hub's 1.14.6, with a digest, behind a registry port, and a k8s_event
// image's), for every supported version; set sets that image and says what it replaced.
// The tag is the one the release's tag function (tools/image tag) gives.
func TestImageScriptNamesTheRunningVersion(t *testing.T) {
	const repo, version = "registry.example:5000/k8s-event/coredns", "v0.1.0"
	digest := "@sha256:" + strings.Repeat("0f", 32)
	for _, sv := range supportedVersions(t) {
		v := sv.coredns
		want := repo + ":" + v + "-k8s_event.0.1.0"
		for _, running := range []string{
			"registry.k8s.io/coredns/coredns:" + v,
			"coredns/coredns:" + strings.TrimPrefix(v, "v"),
			"registry.k8s.io/coredns/coredns:" + v + digest,
			"registry.example:5000/coredns:" + v,
			repo + ":" + v + "-k8s_event.0.0.9",
		} {
			out, err, after := imageSh(t, running, "name", repo, version)
			if err != nil || strings.TrimSpace(out) != want || after != running {
				t.Errorf("image.sh name on %s: %q, %v; want %q, the Deployment unchanged (runs %s)", running, out, err, want, after)
			}
		}
		running := "registry.k8s.io/coredns/coredns:" + v
		out, err, after := imageSh(t, running, "set", repo, version)
		if err != nil || after != want || !strings.Contains(out, running+" -> "+want) {
			t.Errorf("image.sh set on %s: %v\n%s\nthe Deployment runs %s; want %s, and the change printed", running, err, out, after, want)
		}
	}

	v := supportedVersions(t)[0].coredns
	tag := command(t, "go", "run", "-C", repoPath("tools", "image"), ".", "tag", "-version", version, "-coredns", v)
	if out, err, _ := imageSh(t, "registry.k8s.io/coredns/coredns:"+v, "name", repo, version); err != nil || strings.TrimSpace(out) != repo+":"+tag {
		t.Errorf("image.sh name: %q, %v; want the release's tag %s (tools/image tag)", out, err, tag)
	}
}

// TestImageScriptStopsWithoutAKnownVersion: when the running image's CoreDNS version is
// unknown (no tag, a distribution's own tag, a version without an image) or the arguments
// are wrong, image.sh fails saying why and sets nothing.
func TestImageScriptStopsWithoutAKnownVersion(t *testing.T) {
	const repo = "registry.example/k8s-event/coredns"
	for _, tc := range []struct {
		running, repository, version, says string
	}{
		{"registry.k8s.io/coredns/coredns@sha256:" + strings.Repeat("ab", 32), repo, "v0.1.0", "has no tag"},
		{"registry.example:5000/coredns", repo, "v0.1.0", "has no tag"},
		{"registry.k8s.io/coredns/coredns:v1.11.3", repo, "v0.1.0", "CoreDNS v1.11.3 (image registry.k8s.io/coredns/coredns:v1.11.3) is not supported: k8s_event images exist for CoreDNS v1.12.0 "},
		{"602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/coredns:v1.11.3-eksbuild.3", repo, "v0.1.0", "tag 'v1.11.3-eksbuild.3' is not a CoreDNS release's"},
		{"coredns/coredns:latest", repo, "v0.1.0", "tag 'latest' is not a CoreDNS release's"},
		{"registry.k8s.io/coredns/coredns:v1.14.6", repo, "0.1.0", "k8s_event version '0.1.0': want vMAJOR.MINOR.PATCH"},
		{"registry.k8s.io/coredns/coredns:v1.14.6", repo + ":v1.14.6", "v0.1.0", "has a tag"},
		{"registry.k8s.io/coredns/coredns:v1.14.6", "", "v0.1.0", "repository '': want REGISTRY/PATH"},
	} {
		for _, verb := range []string{"name", "set"} {
			out, err, after := imageSh(t, tc.running, verb, tc.repository, tc.version)
			if err == nil || !strings.Contains(out, tc.says) || after != tc.running {
				t.Errorf("image.sh %s %q %q on %s: %v\n%s\nthe Deployment runs %s; want a failure that says %q, the Deployment unchanged",
					verb, tc.repository, tc.version, tc.running, err, out, after, tc.says)
			}
		}
	}
}
