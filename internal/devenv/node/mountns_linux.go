package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"
)

// privatePaths are where the node's programs write whatever their flags say: the
// kubelet's device-plugins socket and pki (/var/lib/kubelet), its container-log links
// (/var/log/containers), containerd's shim sockets (/run/containerd), the Pods' network
// namespaces (/run/netns), CNI's cache (/var/lib/cni), and the defaults of containerd and
// CNI. Inside the node's mount namespace each is a directory of the node's own
// (hostPathsDir), so the host never sees them.
var privatePaths = []string{
	"/var/lib/kubelet", "/var/lib/cni", "/var/lib/containerd",
	"/var/log/containers", "/var/log/pods",
	"/run/containerd", "/run/netns",
	"/etc/cni", "/etc/containerd", "/etc/kubernetes",
	"/opt/cni", "/opt/containerd",
}

// rebuiltDirs are the parents of privatePaths. Inside the node's mount namespace each is
// a tmpfs holding the host's entries, bind-mounted, and the node's private paths: a
// private path needs a mount point, which cannot be made in the host's directory without
// changing the host, and anything else a program adds there stays in the namespace.
var rebuiltDirs = []string{"/var/lib", "/var/log", "/run", "/etc", "/opt"}

// mountNSPath holds the node's mount namespace (nsDir): it lives as long as that mount,
// and goes with the node's directory's mounts (restoreHost).
func mountNSPath() string { return filepath.Join(nsDir(), "mnt") }

// hostPathsDir is where the node's private paths live on the host: /var/lib/kubelet is
// hostPathsDir()/var/lib/kubelet.
func hostPathsDir() string { return filepath.Join(stateDir(), "host") }

// createMountNS makes the node's mount namespace: a copy of the host's, slave to it (a
// mount the host makes or removes reaches the node, never the other way), with
// rebuiltDirs rebuilt and privatePaths bound to the node's directory.
func createMountNS() error {
	for _, p := range privatePaths {
		if err := os.MkdirAll(filepath.Join(hostPathsDir(), p), 0o755); err != nil {
			return err
		}
	}
	if err := holdNewNamespace(unix.CLONE_NEWNS, "mnt", mountNSPath(), setUpMountNS); err != nil {
		return fmt.Errorf("making the node's mount namespace: %w", err)
	}
	return nil
}

// setUpMountNS sets up the new mount namespace of the calling thread, locked.
func setUpMountNS() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return &os.PathError{Op: "make slave", Path: "/", Err: err}
	}
	for _, dir := range rebuiltDirs {
		if err := rebuildDir(dir); err != nil {
			return err
		}
	}
	// The copy of nsDir holds the node's network namespace: the node's programs have no
	// use for it, and without it the namespace lives only as long as the host's mount.
	if err := unix.Unmount(nsDir(), unix.MNT_DETACH); err != nil {
		return &os.PathError{Op: "unmount", Path: nsDir(), Err: err}
	}
	return nil
}

// rebuildDir mounts a tmpfs over dir holding what dir holds on the host (each entry
// bind-mounted, with what is mounted under it; symbolic links copied), but for dir's
// private paths, bound to the node's own directories instead.
func rebuildDir(dir string) error {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return &os.PathError{Op: "stat", Path: dir, Err: err}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	// The host's directory stays reachable through this descriptor once covered.
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	opts := fmt.Sprintf("mode=%o,uid=%d,gid=%d", st.Mode&0o7777, st.Uid, st.Gid)
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return &os.PathError{Op: "mount a tmpfs over", Path: dir, Err: err}
	}
	var mine []string
	for _, p := range privatePaths {
		if filepath.Dir(p) == dir {
			mine = append(mine, filepath.Base(p))
		}
	}
	var errs []error
	for _, e := range entries {
		if !slices.Contains(mine, e.Name()) {
			errs = append(errs, addHostEntry(dir, fd, e))
		}
	}
	for _, name := range mine {
		target := filepath.Join(dir, name)
		if err := os.Mkdir(target, 0o755); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := unix.Mount(filepath.Join(hostPathsDir(), target), target, "", unix.MS_BIND, ""); err != nil {
			errs = append(errs, &os.PathError{Op: "bind-mount the node's own", Path: target, Err: err})
		}
	}
	return errors.Join(errs...)
}

// addHostEntry puts the host's entry e of dir (open as hostDir) back into the rebuilt dir.
func addHostEntry(dir string, hostDir int, e os.DirEntry) error {
	target := filepath.Join(dir, e.Name())
	source := fmt.Sprintf("/proc/self/fd/%d/%s", hostDir, e.Name())
	switch {
	case e.Type()&os.ModeSymlink != 0:
		link, err := os.Readlink(source)
		if err != nil {
			return err
		}
		return os.Symlink(link, target)
	case e.IsDir():
		if err := os.Mkdir(target, 0o755); err != nil {
			return err
		}
	default:
		if err := os.WriteFile(target, nil, 0o644); err != nil {
			return err
		}
	}
	if err := unix.Mount(source, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return &os.PathError{Op: "bind-mount the host's", Path: target, Err: err}
	}
	return nil
}

// nsenterArgs are nsenter's arguments that run a command inside the node's namespaces,
// in the working directory it was started in.
func nsenterArgs() []string {
	return []string{"--mount=" + mountNSPath(), "--net=" + netnsPath(), "--wd=."}
}
