//go:build linux

package node

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// The node's network: its own namespace with a bridge for the node and its Pods. The
// bridge address is the node's InternalIP, the API server's address, and the upstream
// resolver of Pods with dnsPolicy Default, where nothing listens: a forwarded query
// fails there at once instead of leaving the machine.
const (
	Bridge        = "k8sev0"
	NodeIP        = "10.200.0.1"
	PodSubnet     = "10.200.0.0/24"
	ServiceSubnet = "10.96.0.0/24"
	DNSServiceIP  = "10.96.0.10"
	APIServerPort = "6443"
)

// netnsPath holds the node's network namespace (nsDir).
func netnsPath() string { return filepath.Join(nsDir(), "net") }

// NetNSPath is the file that holds the node's network namespace: what nsenter --net=
// takes to run a command in the node's network.
func NetNSPath() string { return netnsPath() }

// createNetNS makes the namespace with its loopback and bridge up, a route for the
// Services' range, and IP forwarding on inside it (a Pod reaches a Service's Pod through
// the node: ClusterIP, DNAT, bridge).
func createNetNS() error {
	if err := holdNewNamespace(unix.CLONE_NEWNET, "net", netnsPath(), nil); err != nil {
		return fmt.Errorf("making the node's network namespace: %w", err)
	}
	steps := [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "link", "add", Bridge, "type", "bridge"},
		{"ip", "addr", "add", NodeIP + "/24", "dev", Bridge},
		{"ip", "link", "set", Bridge, "up"},
		// The Services' addresses: kube-proxy's rules take a packet sent there from the
		// node itself only once a route has chosen its way out.
		{"ip", "route", "add", ServiceSubnet, "dev", Bridge},
		{"sysctl", "-qw", "net.ipv4.ip_forward=1"},
	}
	for _, s := range steps {
		if out, err := exec.Command("nsenter", append([]string{"--net=" + netnsPath(), "--"}, s...)...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s in the node's network namespace: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	return nil
}

// InNetNS runs f on an OS thread that has entered the node's network namespace: sockets
// f creates belong to the node's network. The thread goes back to its own namespace
// before it is unlocked. It must not end instead: a thread that ends sends the parent-death
// signal to the children it started (Pdeathsig), such as the node's programs. Only if it
// cannot go back does the thread stay locked, and end with the goroutine.
func InNetNS(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		own, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("opening this thread's network namespace: %w", err)
			return
		}
		defer unix.Close(own)
		node, err := unix.Open(netnsPath(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("opening the node's network namespace: %w", err)
			return
		}
		defer unix.Close(node)
		if err := unix.Setns(node, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("entering the node's network namespace: %w", err)
			return
		}
		err = f()
		if unix.Setns(own, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// Dial connects to addr inside the node's network: the Dial of client-go's rest.Config
// and of DNS clients.
func Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var conn net.Conn
	err := InNetNS(func() (err error) {
		conn, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return conn, err
}

// Command is name with args run inside the node's network and mount namespaces, the
// namespaces every program of the node shares (kubelet's mounts are containerd's), in the
// working directory the command is given (its Dir).
func Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "nsenter", append(append(nsenterArgs(), "--", name), args...)...)
}
