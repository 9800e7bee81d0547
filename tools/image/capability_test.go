package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// The security.capability value of cap_net_bind_service=+ep, as linux/capability.h lays
// out struct vfs_cap_data: magic_etc VFS_CAP_REVISION_2|VFS_CAP_FLAGS_EFFECTIVE, then
// permitted 1<<10 (CAP_NET_BIND_SERVICE) and three empty words.
var netBindServiceEP = []byte{
	0x01, 0x00, 0x00, 0x02,
	0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
}

func TestFileCapabilityLayout(t *testing.T) {
	if got := fileCapability(capNetBindService); !bytes.Equal(got, netBindServiceEP) {
		t.Errorf("fileCapability(CAP_NET_BIND_SERVICE) = % x, want % x", got, netBindServiceEP)
	}
}

// requireRoot fails the test unless it runs as root, saying what needs it.
func requireRoot(t *testing.T, what string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("%s needs root: run make image-check (or make test) as root", what)
	}
}

// requireCommand fails the test unless the command is installed.
func requireCommand(t *testing.T, name, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed (Debian package %s): %v", name, debianPackage, err)
	}
	return path
}

// TestFileCapabilityMatchesSetcap: the attribute the image's layer carries is the one
// setcap writes on this machine for cap_net_bind_service=+ep.
func TestFileCapabilityMatchesSetcap(t *testing.T) {
	requireRoot(t, "setcap")
	setcap := requireCommand(t, "setcap", "libcap2-bin")
	file := filepath.Join(t.TempDir(), "coredns")
	if err := os.WriteFile(file, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(setcap, "cap_net_bind_service=+ep", file).CombinedOutput(); err != nil {
		t.Fatalf("setcap: %v\n%s", err, out)
	}
	buf := make([]byte, 64)
	n, err := syscall.Getxattr(file, "security.capability", buf)
	if err != nil {
		t.Fatalf("reading what setcap wrote: %v", err)
	}
	if got := fileCapability(capNetBindService); !bytes.Equal(got, buf[:n]) {
		t.Errorf("fileCapability(CAP_NET_BIND_SERVICE) = % x, setcap wrote % x", got, buf[:n])
	}
}
