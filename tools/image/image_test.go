package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// checkConfig fails unless the image's config runs entrypoint as user, exposes exactly
// ports, and sets nothing else a container would inherit (no command, environment,
// working directory, volumes or labels).
func checkConfig(t *testing.T, img v1.Image, user string, entrypoint []string, ports ...string) *v1.ConfigFile {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	wantPorts := map[string]struct{}{}
	for _, p := range ports {
		wantPorts[p] = struct{}{}
	}
	if len(ports) == 0 {
		wantPorts = nil
	}
	if c.User != user || !reflect.DeepEqual(c.Entrypoint, entrypoint) || !reflect.DeepEqual(c.ExposedPorts, wantPorts) {
		t.Errorf("config: user %q, entrypoint %q, ports %v; want user %q, entrypoint %q, ports %v",
			c.User, c.Entrypoint, c.ExposedPorts, user, entrypoint, wantPorts)
	}
	if len(c.Cmd) > 0 || len(c.Env) > 0 || c.WorkingDir != "" || len(c.Volumes) > 0 || len(c.Labels) > 0 {
		t.Errorf("config sets more than the recipe: %+v", c)
	}
	if cf.Created.IsZero() {
		t.Error("config: no creation date")
	}
	return cf
}

// TestCoreDNSImage: make image wrote, for every platform, one layer with exactly /coredns
// (static, for the platform, the commit in it, cap_net_bind_service=+ep), this machine's
// CA bundle and its package's dpkg status and copyright, owned by root, run as 65532:65532 with port 53 over TCP and UDP.
func TestCoreDNSImage(t *testing.T) {
	b := loadBuilt(t, "K8S_EVENT_IMAGE_TAR", "K8S_EVENT_IMAGE")
	platforms := imagePlatforms(t)
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		if !strings.Contains(" "+strings.Join(platforms, " ")+" ", " "+p+" ") {
			t.Errorf("K8S_EVENT_IMAGE_PLATFORMS is %q: the image is promised for %s", platforms, p)
		}
	}
	commit := os.Getenv("K8S_EVENT_GIT_COMMIT")
	ca, err := os.ReadFile(os.Getenv("K8S_EVENT_CA_BUNDLE"))
	if commit == "" || err != nil || len(ca) == 0 {
		t.Fatalf("K8S_EVENT_GIT_COMMIT %q and K8S_EVENT_CA_BUNDLE (%v) must give the commit and the CA bundle", commit, err)
	}
	status, errStatus := os.ReadFile(os.Getenv("K8S_EVENT_CA_STATUS"))
	copyright, errCopyright := os.ReadFile(os.Getenv("K8S_EVENT_CA_COPYRIGHT"))
	if errStatus != nil || errCopyright != nil {
		t.Fatalf("K8S_EVENT_CA_STATUS (%v) and K8S_EVENT_CA_COPYRIGHT (%v) must give the CA bundle's package's status and copyright", errStatus, errCopyright)
	}
	same := func(what string, want []byte) func(*testing.T, []byte) {
		return func(t *testing.T, data []byte) {
			if !bytes.Equal(data, want) {
				t.Errorf("%d bytes, not the build machine's %s (%d bytes)", len(data), what, len(want))
			}
		}
	}
	for p, img := range platformImages(t, b.idx, platforms) {
		t.Run(p, func(t *testing.T) {
			cf := checkConfig(t, img, "65532:65532", []string{"/coredns"}, "53/tcp", "53/udp")
			dir := wantEntry{typ: '5', mode: 0o755}
			checkEntries(t, singleLayer(t, img), []wantEntry{
				{name: "coredns", typ: '0', mode: 0o755,
					pax:   map[string]string{"SCHILY.xattr.security.capability": string(netBindServiceEP)},
					check: checkStaticELF(cf.Architecture, commit)},
				named(dir, "etc/"), named(dir, "etc/ssl/"), named(dir, "etc/ssl/certs/"),
				{name: "etc/ssl/certs/ca-certificates.crt", typ: '0', mode: 0o644, check: same("CA bundle", ca)},
				named(dir, "usr/"), named(dir, "usr/share/"), named(dir, "usr/share/doc/"), named(dir, "usr/share/doc/ca-certificates/"),
				{name: "usr/share/doc/ca-certificates/copyright", typ: '0', mode: 0o644, check: same("ca-certificates copyright", copyright)},
				named(dir, "var/"), named(dir, "var/lib/"), named(dir, "var/lib/dpkg/"), named(dir, "var/lib/dpkg/status.d/"),
				{name: "var/lib/dpkg/status.d/ca-certificates", typ: '0', mode: 0o644, check: same("ca-certificates dpkg status", status)},
			}, cf.Created)
		})
	}
}

// named is e with the name n.
func named(e wantEntry, n string) wantEntry {
	e.name = n
	return e
}

// TestPauseImage: make pause-image wrote, for every platform, one layer with exactly
// /pause, static and for the platform, run as 65535:65535.
func TestPauseImage(t *testing.T) {
	b := loadBuilt(t, "K8S_EVENT_PAUSE_TAR", "K8S_EVENT_PAUSE_IMAGE")
	for p, img := range platformImages(t, b.idx, imagePlatforms(t)) {
		t.Run(p, func(t *testing.T) {
			cf := checkConfig(t, img, "65535:65535", []string{"/pause"})
			checkEntries(t, singleLayer(t, img), []wantEntry{
				{name: "pause", typ: '0', mode: 0o755, check: checkStaticELF(cf.Architecture)},
			}, cf.Created)
		})
	}
}

// TestCapabilityExtracted: GNU tar, extracting the linux/amd64 layer with its extended
// attributes, gives /coredns the capability getcap reads as cap_net_bind_service=ep.
func TestCapabilityExtracted(t *testing.T) {
	b := loadBuilt(t, "K8S_EVENT_IMAGE_TAR", "K8S_EVENT_IMAGE")
	requireRoot(t, "extracting security.capability")
	tarCmd := requireCommand(t, "tar", "tar")
	getcap := requireCommand(t, "getcap", "libcap2-bin")
	img := platformImages(t, b.idx, imagePlatforms(t))["linux/amd64"]
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	dir := t.TempDir()
	cmd := exec.Command(tarCmd, "--xattrs", "--xattrs-include=*", "-xzf", "-", "-C", dir)
	cmd.Stdin = rc
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	out, err := exec.Command(getcap, filepath.Join(dir, "coredns")).CombinedOutput()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), " cap_net_bind_service=ep") {
		t.Errorf("getcap on the extracted /coredns: %q (%v), want cap_net_bind_service=ep", out, err)
	}
}
