package node

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
)

// FreshHostPaths are what a fresh machine lacks and a kubelet, containerd or CNI write by
// default. The node suite moves any of them that exists aside for its run (MoveAside), so
// that its host check sees the node make one if it does.
var FreshHostPaths = []string{
	"/var/lib/kubelet", "/var/lib/cni", "/var/log/containers", "/var/log/pods",
	"/run/containerd", "/etc/cni", "/opt/cni",
}

// AsideSuffix names a path moved aside. It is fixed, so that a run that was killed before
// it put the paths back is undone by the next.
const AsideSuffix = ".k8s-event-node-test-aside"

// MoveAside puts back what a killed run left aside, then renames each of paths that exists
// to its aside name, except a path a daemon of the host is serving from (a unix socket in
// it accepts connections: the host's containerd on a machine with Docker), which stays
// where its clients look for it. putBack renames the moved paths back; call it whatever
// happens, also after an error. skipped lists the paths left in place.
func MoveAside(paths []string) (putBack func() error, skipped []string, err error) {
	var moved []string
	putBack = func() error {
		var errs []error
		for _, p := range moved {
			errs = append(errs, putBackAside(p))
		}
		moved = nil
		return errors.Join(errs...)
	}
	for _, p := range paths {
		if err := putBackAside(p); err != nil {
			return putBack, nil, err
		}
	}
	for _, p := range paths {
		if _, err := os.Lstat(p); os.IsNotExist(err) {
			continue
		}
		if servedFrom(p) {
			skipped = append(skipped, p)
			continue
		}
		if err := os.Rename(p, p+AsideSuffix); err != nil {
			return putBack, skipped, fmt.Errorf("moving %s aside, to run the node as on a fresh machine: %w", p, err)
		}
		moved = append(moved, p)
	}
	return putBack, skipped, nil
}

// putBackAside renames p's aside name back to p, if it exists. It refuses when p exists
// again: then something made it while it was aside, and both are kept for a person to
// look at.
func putBackAside(p string) error {
	if _, err := os.Lstat(p + AsideSuffix); os.IsNotExist(err) {
		return nil
	}
	if _, err := os.Lstat(p); err == nil {
		return fmt.Errorf("putting %s back: it exists again (the node made it?); %s is what was there before", p, p+AsideSuffix)
	}
	return os.Rename(p+AsideSuffix, p)
}

// servedFrom tells whether a unix socket directly in dir accepts connections.
func servedFrom(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if e.Type()&os.ModeSocket == 0 {
			continue
		}
		c, err := net.DialTimeout("unix", filepath.Join(dir, e.Name()), time.Second)
		if err == nil {
			c.Close()
			return true
		}
	}
	return false
}
