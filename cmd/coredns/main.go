// Command coredns is CoreDNS with every in-tree plugin plus kubeapi and k8s_event, as
// adding these lines at the end of CoreDNS's plugin.cfg builds it:
//
//	kubeapi:github.com/coredns/kubeapi
//	k8s_event:github.com/coredns/k8s_event
//
// Near the end, kubeapi first, is the usual place, and k8s_event must come after health:
// caddy runs the OnFinalShutdown callbacks in the order the plugins were set up, which is
// plugin.cfg's, so only there does k8s_event's final flush come after health's lame duck,
// and the lines logged while CoreDNS still answers during it are reported. Where they go
// does not change which start-up lines are reported: k8s_event puts its settings in effect
// when CoreDNS first starts, before any plugin's start-up (caddy runs every OnFirstStartup
// callback before the first OnStartup), so the lines plugins log while starting are heard;
// they wait in a bounded queue until kubeapi's connection is up.
//
// make coredns builds it (static, the commit in -version); make image packs that build in
// the image.
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
