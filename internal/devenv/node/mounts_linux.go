//go:build linux

package node

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

type unixStat struct{ dev, ino uint64 }

func statIno(path string, s *unixStat) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return err
	}
	*s = unixStat{st.Dev, st.Ino}
	return nil
}

// unmountUnder unmounts every mount point at or under dir, deepest first (a Pod's
// volumes, containerd's root filesystems and shared memory). Lazily: a mount still busy
// goes when its last user does.
func unmountUnder(dir string) error {
	var points []string
	for _, p := range mountPoints() {
		if under(p, dir) {
			points = append(points, p)
		}
	}
	slices.SortFunc(points, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	var errs []error
	for _, p := range points {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, &os.PathError{Op: "unmount", Path: p, Err: err})
		}
	}
	return errors.Join(errs...)
}

// cgroupHierarchies are the roots of the machine's cgroup hierarchies: /sys/fs/cgroup with
// cgroup v2 alone, else each mount below it (cgroup v1, and v2's beside it in hybrid mode).
func cgroupHierarchies() []string {
	if fileExists(filepath.Join(cgroupFS, "cgroup.controllers")) {
		return []string{cgroupFS}
	}
	var roots []string
	for _, h := range dirNames(cgroupFS) {
		roots = append(roots, filepath.Join(cgroupFS, h))
	}
	return roots
}

// makeCgroups creates CgroupRoot in every hierarchy, kubelet's --cgroup-root, which it
// requires to exist. cpuset's gets its parent's CPUs and memory nodes, without which no
// process could join it.
func makeCgroups() error {
	for _, root := range cgroupHierarchies() {
		dir := filepath.Join(root, CgroupRoot)
		if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
			return err
		}
		if filepath.Base(root) != "cpuset" {
			continue
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			v, err := os.ReadFile(filepath.Join(root, f))
			if err == nil {
				err = os.WriteFile(filepath.Join(dir, f), v, 0o644)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// removeCgroups removes CgroupRoot and everything under it in every hierarchy, deepest
// first; a cgroup with a process left in it cannot go, and says so.
func removeCgroups() error {
	var errs []error
	for _, h := range cgroupHierarchies() {
		root := filepath.Join(h, CgroupRoot)
		var dirs []string
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		slices.Reverse(dirs)
		for _, d := range dirs {
			if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, &os.PathError{Op: "rmdir", Path: d, Err: err})
			}
		}
	}
	return errors.Join(errs...)
}
