package node

import (
	"errors"
	"fmt"
	"os"
)

// freshHostPaths are what a fresh machine lacks and a kubelet, containerd or CNI writes
// by default: the suite runs as on a fresh machine by moving any of them that exists
// aside, so that the host check sees the node make one.
var freshHostPaths = []string{
	"/var/lib/kubelet", "/var/lib/cni", "/var/log/containers", "/var/log/pods",
	"/run/containerd", "/etc/cni", "/opt/cni",
}

// asideSuffix names a path moved aside: fixed, so that a run that was killed before it
// put them back is undone by the next.
const asideSuffix = ".k8s-event-node-test-aside"

// moveAsideFreshHostPaths puts back what a killed run left aside, then renames each of
// freshHostPaths that exists to its aside name. putBack renames them back; call it
// whatever happens, also after an error.
func moveAsideFreshHostPaths() (putBack func() error, err error) {
	var moved []string
	putBack = func() error {
		var errs []error
		for _, p := range moved {
			errs = append(errs, putBackAside(p))
		}
		return errors.Join(errs...)
	}
	for _, p := range freshHostPaths {
		if err := putBackAside(p); err != nil {
			return putBack, err
		}
	}
	for _, p := range freshHostPaths {
		if _, err := os.Lstat(p); os.IsNotExist(err) {
			continue
		}
		if err := os.Rename(p, p+asideSuffix); err != nil {
			return putBack, fmt.Errorf("moving %s aside, to run the node as on a fresh machine: %w", p, err)
		}
		moved = append(moved, p)
	}
	return putBack, nil
}

// putBackAside renames p's aside name back to p, if it exists.
func putBackAside(p string) error {
	if _, err := os.Lstat(p + asideSuffix); os.IsNotExist(err) {
		return nil
	}
	if _, err := os.Lstat(p); err == nil {
		return fmt.Errorf("putting %s back: it exists again (the node made it?); %s is what was there before", p, p+asideSuffix)
	}
	return os.Rename(p+asideSuffix, p)
}
