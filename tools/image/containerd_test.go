package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// containerd is a containerd of a test's own: its root, state, sockets and temporary
// mounts in a directory of the test, without the CRI plugin (no Pods, no network), never
// meeting another containerd on the machine.
type containerd struct {
	dir, address, ctrPath string
}

// containerdConfig is its configuration; %[1]s is its directory.
const containerdConfig = `version = 2
root = "%[1]s/root"
state = "%[1]s/state"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]

[grpc]
  address = "%[1]s/containerd.sock"

[ttrpc]
  address = "%[1]s/containerd.sock.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "%[1]s/opt"
`

// startContainerd starts a containerd for the test and waits until it answers. At the end
// of the test, whatever happened, it stops it, unmounts what is left under its directory
// and removes the directory; the test fails if any of that fails.
func startContainerd(t *testing.T) *containerd {
	t.Helper()
	requireRoot(t, "containerd")
	bin := requireCommand(t, "containerd", "containerd")
	c := &containerd{ctrPath: requireCommand(t, "ctr", "containerd")}
	dir, err := os.MkdirTemp("", "k8s-event-containerd-")
	if err != nil {
		t.Fatal(err)
	}
	c.dir, c.address = dir, filepath.Join(dir, "containerd.sock")
	config := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(config, fmt.Appendf(nil, containerdConfig, dir), 0o600); err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "containerd.log"))
	if err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", config)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopProcess(t, cmd, 20*time.Second)
		logFile.Close()
		if t.Failed() {
			if data, err := os.ReadFile(logFile.Name()); err == nil {
				t.Logf("containerd's log:\n%s", data)
			}
		}
		for _, m := range mountsUnder(t, dir) {
			if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
				t.Errorf("unmounting %s: %v", m, err)
			}
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("removing containerd's directory: %v", err)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := c.run("version")
		if err == nil {
			break
		}
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			t.Fatalf("containerd does not answer on %s: %v\n%s", c.address, err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return c
}

// stopProcess ends a process with SIGTERM, then SIGKILL after grace, and waits for it.
func stopProcess(t *testing.T, cmd *exec.Cmd, grace time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		t.Errorf("containerd did not stop within %v of SIGTERM: killing it", grace)
		cmd.Process.Kill()
		<-done
	}
}

// mountsUnder lists the mount points under dir, deepest first.
func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Error(err)
		return nil
	}
	defer f.Close()
	var mounts []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		// The fifth field is the mount point (spaces escaped as \040).
		if f := strings.Fields(s.Text()); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			mounts = append([]string{f[4]}, mounts...)
		}
	}
	return mounts
}

// run runs ctr against the containerd, in the namespace the kubelet's images live in.
func (c *containerd) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, c.ctrPath, append([]string{"--address", c.address, "-n", "k8s.io"}, args...)...).CombinedOutput()
	return string(out), err
}

// ctr runs ctr and fails the test if it fails.
func (c *containerd) ctr(t *testing.T, args ...string) string {
	t.Helper()
	out, err := c.run(args...)
	if err != nil {
		t.Fatalf("ctr %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// imageRow is a line of `ctr images ls`.
type imageRow struct{ mediaType, digest, platforms string }

// images lists the containerd's images by name.
func (c *containerd) images(t *testing.T) map[string]imageRow {
	t.Helper()
	rows := map[string]imageRow{}
	// REF TYPE DIGEST SIZE PLATFORMS LABELS, the size in two fields ("12.3 MiB").
	for _, line := range strings.Split(c.ctr(t, "images", "ls"), "\n")[1:] {
		if f := strings.Fields(line); len(f) >= 6 {
			rows[f[0]] = imageRow{mediaType: f[1], digest: f[2], platforms: f[5]}
		}
	}
	return rows
}

// TestContainerdImport: containerd imports both tars under their names, as the lead's
// node does (ctr -n k8s.io images import), with the digests make image wrote, and unpacks
// CoreDNS's image with /coredns owned by root, mode 0755 and cap_net_bind_service=ep.
func TestContainerdImport(t *testing.T) {
	coreDNS := loadBuilt(t, "K8S_EVENT_IMAGE_TAR", "K8S_EVENT_IMAGE")
	pause := loadBuilt(t, "K8S_EVENT_PAUSE_TAR", "K8S_EVENT_PAUSE_IMAGE")
	getcap := requireCommand(t, "getcap", "libcap2-bin")
	c := startContainerd(t)

	c.ctr(t, "images", "import", "--all-platforms", coreDNS.tar)
	c.ctr(t, "images", "import", "--platform", "linux/amd64", pause.tar)
	rows := c.images(t)
	for _, b := range []builtImage{coreDNS, pause} {
		digest, err := b.idx.Digest()
		if err != nil {
			t.Fatal(err)
		}
		row, ok := rows[b.name]
		if !ok {
			t.Errorf("containerd has no image %s after the import: %v", b.name, rows)
			continue
		}
		if row.digest != digest.String() || row.mediaType != "application/vnd.oci.image.index.v1+json" {
			t.Errorf("%s is %s %s, want the index %s", b.name, row.mediaType, row.digest, digest)
		}
		if b.name == coreDNS.name && row.platforms != "linux/amd64,linux/arm64" {
			t.Errorf("%s is for %s, want linux/amd64,linux/arm64", b.name, row.platforms)
		}
	}
	if len(rows) != 2 {
		t.Errorf("containerd has images %v, want %s and %s only", rows, coreDNS.name, pause.name)
	}

	// The linux/amd64 root filesystem as containerd unpacked it for containers.
	target := filepath.Join(c.dir, "rootfs")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	c.ctr(t, "images", "mount", "--platform", "linux/amd64", coreDNS.name, target)
	bin := filepath.Join(target, "coredns")
	var st syscall.Stat_t
	if err := syscall.Stat(bin, &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != 0 || st.Gid != 0 || st.Mode&0o7777 != 0o755 {
		t.Errorf("unpacked /coredns: owner %d:%d mode %#o, want 0:0 0755", st.Uid, st.Gid, st.Mode&0o7777)
	}
	if out, err := exec.Command(getcap, bin).CombinedOutput(); err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), " cap_net_bind_service=ep") {
		t.Errorf("getcap on the unpacked /coredns: %q (%v), want cap_net_bind_service=ep", out, err)
	}
	c.ctr(t, "images", "unmount", "--rm", target)
}
