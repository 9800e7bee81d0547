package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// The local zone the template plugin answers, so that a test can tell that CoreDNS
// serves DNS whatever happens to the Kubernetes API.
const (
	localZone   = "local.test."
	localZoneIP = "192.0.2.53"
)

// serverBlock renders a server block; a directive may span several lines.
func serverBlock(key string, directives ...string) string {
	var b strings.Builder
	b.WriteString(key + " {\n")
	for _, d := range directives {
		for _, l := range strings.Split(d, "\n") {
			b.WriteString("    " + l + "\n")
		}
	}
	b.WriteString("}\n")
	return b.String()
}

// kubeapiDirective connects a server block to the API server as the coredns
// ServiceAccount.
func kubeapiDirective() string {
	return fmt.Sprintf("kubeapi {\n    kubeconfig %s\n}", suite.cp.CoreDNSKubeconfig())
}

// k8sEventDirective renders k8s_event with the given settings, one per line.
func k8sEventDirective(settings ...string) string {
	if len(settings) == 0 {
		return "k8s_event"
	}
	return "k8s_event {\n    " + strings.Join(settings, "\n    ") + "\n}"
}

// failingForward makes every query fail fast: it forwards to a loopback port where
// nothing listens, and errors logs one line per failed query.
func failingForward(t *testing.T) string {
	return "forward . " + loopbackAddr(freePort(t))
}

// localZoneDirective answers A queries in localZone with localZoneIP.
func localZoneDirective() string {
	return fmt.Sprintf("template IN A %s {\n    answer \"{{ .Name }} 60 IN A %s\"\n}", localZone, localZoneIP)
}

// prometheusDirective serves metrics on addr.
func prometheusDirective(addr string) string { return "prometheus " + addr }
