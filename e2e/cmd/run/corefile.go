package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// corefileTemplate is the demo's Corefile. Its arguments: the DNS port, the kubeconfig
// CoreDNS uses, and the upstream port where nothing listens.
const corefileTemplate = `# The demo's Corefile: one server on 127.0.0.1:%[1]d.
.:%[1]d {
    bind 127.0.0.1
    # kubeapi connects to the Kubernetes API; k8s_event reports through it.
    kubeapi {
        kubeconfig %[2]s
    }
    # Log lines of these levels become Events (the default is error warning).
    k8s_event {
        level info error warning
    }
    # Check this file every 2s (give or take 0.5s) and restart when it changed.
    reload 2s 1s
    # errors logs every failed query; log prints every query (it never becomes an Event).
    errors
    log
    # Nothing listens on this port: every query fails upstream, and errors logs it.
    forward . 127.0.0.1:%[3]d
}
`

// reloadEdit is inserted before the forward line to make the reload plugin restart
// CoreDNS. It must change the parsed Corefile: reload hashes that, so a new comment alone
// would go unnoticed.
const reloadEdit = "    # Added by the demo: a real change, so that reload restarts CoreDNS.\n    cache 30\n"

// corefile is the demo's Corefile on disk.
type corefile struct {
	path              string
	dnsPort, deadPort int
	text              string
}

// writeCorefile writes the Corefile into dir, on free ports.
func writeCorefile(dir, kubeconfig string) (*corefile, error) {
	ports, err := freeDNSPorts(2)
	if err != nil {
		return nil, err
	}
	cf := &corefile{path: filepath.Join(dir, "Corefile"), dnsPort: ports[0], deadPort: ports[1]}
	cf.text = fmt.Sprintf(corefileTemplate, cf.dnsPort, kubeconfig, cf.deadPort)
	return cf, writeFileAtomic(cf.path, cf.text)
}

// dnsAddr is where CoreDNS serves.
func (cf *corefile) dnsAddr() string { return fmt.Sprintf("127.0.0.1:%d", cf.dnsPort) }

// addCache adds reloadEdit before the forward line.
func (cf *corefile) addCache() error {
	i := strings.Index(cf.text, "    # Nothing listens")
	if i < 0 {
		return errors.New("corefile: forward line not found")
	}
	cf.text = cf.text[:i] + reloadEdit + cf.text[i:]
	return writeFileAtomic(cf.path, cf.text)
}

// writeFileAtomic replaces path by a rename, so the reload plugin, reading the file on
// its own schedule, never sees half of it.
func writeFileAtomic(path, text string) error {
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// freeDNSPorts returns n distinct loopback ports free for both UDP and TCP a moment ago.
func freeDNSPorts(n int) ([]int, error) {
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries == 50 {
			return nil, errors.New("no free loopback port for both UDP and TCP")
		}
		tl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer tl.Close() // hold every port until the end, so they differ
		port := tl.Addr().(*net.TCPAddr).Port
		ul, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // taken for UDP: try another
		}
		defer ul.Close()
		ports = append(ports, port)
	}
	return ports, nil
}
