// Command coredns is CoreDNS with every in-tree plugin plus kubeapi and k8s_event, in
// the order adding their lines at the end of CoreDNS's plugin.cfg would give:
//
//	kubeapi:github.com/coredns/kubeapi
//	k8s_event:github.com/coredns/k8s_event
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	_ "github.com/coredns/coredns/core/plugin" // every in-tree plugin
	"github.com/coredns/coredns/coremain"
	_ "github.com/coredns/k8s_event"
	_ "github.com/coredns/kubeapi"
)

func init() {
	dnsserver.Directives = append(dnsserver.Directives, "kubeapi", "k8s_event")
}

func main() { coremain.Run() }
