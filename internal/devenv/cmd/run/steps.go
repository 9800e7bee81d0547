package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	"github.com/miekg/dns"
)

// startCluster is step 1: a Kubernetes API to report to, local or that of $KUBECONFIG.
func (d *demo) startCluster(ctx context.Context) (err error) {
	if d.env.kubeconfig == "" {
		d.con.Step("Start a local Kubernetes API",
			"KUBECONFIG is not set, so the demo runs its own etcd and kube-apiserver on 127.0.0.1",
			"(no controller-manager, no node). It applies deploy/rbac.yaml, which lets",
			"ServiceAccount kube-system/coredns write Events and look up its Pod, and creates",
			"the Pod "+devenv.CoreDNSNamespace+"/"+demoPod+" for CoreDNS to report on.")
		if d.cl, err = startLocal(ctx, d.env, d.con, d.atExit); err != nil {
			return err
		}
		d.con.Blank()
		d.con.Say("To watch the events arrive, run in another terminal:")
		d.con.Say("    export KUBECONFIG=%s", d.cl.adminKubeconfig)
		d.con.Say("    kubectl get events -n %s -w", devenv.CoreDNSNamespace)
		d.con.Say("(kubectl is %s if it is not on your PATH; the kubeconfig goes away with the demo)",
			filepath.Join(".bin", "kubectl"))
		return nil
	}
	d.con.Step("Use the cluster of $KUBECONFIG",
		"KUBECONFIG is set, so the demo uses that cluster and creates nothing in it. CoreDNS",
		"runs as your user without COREDNS_POD_NAME and COREDNS_NAMESPACE: the plugin then",
		"reports on the Namespace default (its fallback when it does not know its Pod).")
	if d.cl, err = useKubeconfig(d.env, d.tmp, d.con); err != nil {
		return err
	}
	d.con.Blank()
	d.con.Say("To watch the events arrive, run in another terminal:")
	d.con.Say("    kubectl get events -n default --field-selector source=CoreDNS -w")
	return nil
}

// writeCorefile is step 2.
func (d *demo) writeCorefile(context.Context) (err error) {
	d.con.Step("Write a Corefile",
		"One server on 127.0.0.1 with k8s_event, and a forward to a port where nothing",
		"listens: every query fails there, and the errors plugin logs it.")
	if d.cf, err = newCorefile(d.cl.coreDNSKubeconfig); err != nil {
		return err
	}
	d.con.Say("%s:", filepath.Join(d.tmp, "Corefile"))
	d.con.Lines("    | ", d.cf.text)
	return nil
}

// startCoreDNS is step 3: CoreDNS runs, its plugins are set up and it answers DNS.
func (d *demo) startCoreDNS(ctx context.Context) (err error) {
	if d.cl.podUID != "" {
		d.con.Step("Start CoreDNS",
			"With the variables a Pod's Downward API would set, but for COREDNS_POD_UID: left",
			"unset, it makes the plugin look the Pod's UID up itself.")
	} else {
		d.con.Step("Start CoreDNS",
			"Without COREDNS_POD_NAME and COREDNS_NAMESPACE: there is no Pod to report on.")
	}
	d.con.Say("$ %s %s -conf %s", strings.Join(d.cl.coreDNSEnv, " "), filepath.Base(d.env.paths.CoreDNS), filepath.Join(d.tmp, "Corefile"))
	d.con.Blank()
	d.coreDNSStarted = time.Now()
	if d.coreDNS, err = devenv.StartCoreDNS(devenv.CoreDNSOptions{
		Binary: d.env.paths.CoreDNS, Corefile: d.cf.text, Dir: d.tmp, Env: d.cl.coreDNSEnv,
		Echo: func(l string) { d.con.Lines("coredns | ", l) },
	}); err != nil {
		return err
	}
	c := d.coreDNS
	d.atExit("stopping CoreDNS", func() error {
		if ended, _ := c.Exited(); ended {
			d.con.Say("  it had already ended: %s", c.ExitStatus())
			return nil
		}
		err := c.Stop()
		d.con.Say("  sent SIGTERM; CoreDNS ended: %s", c.ExitStatus())
		return err
	})

	// The reload plugin logs its line once every OnStartup function, k8s_event's among
	// them, has run: from then on the plugin's log listener is in place.
	if err := d.waitReloadLine(ctx, dnsReadyTimeout, "start-up line "+quote(reloadLine)); err != nil {
		return err
	}
	r, err := waitDNS(ctx, d.cf.dnsAddr(), dnsReadyTimeout)
	if err != nil {
		return err
	}
	d.con.Say("CoreDNS answers on %s: a probe asking for EDNS version 1 got %s, which CoreDNS",
		d.cf.dnsAddr(), rcodeName(r.Rcode))
	d.con.Say("answers before any plugin runs, so the probe itself logs nothing.")
	return nil
}

// waitReloadLine waits for the next reload line and keeps its configuration's hash.
func (d *demo) waitReloadLine(ctx context.Context, timeout time.Duration, what string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var hash string
	err := d.coreDNS.WaitOutput(ctx, what, func(lines []string) bool {
		var hashes []string
		for _, l := range lines {
			if _, after, ok := strings.Cut(l, reloadLine); ok {
				hashes = append(hashes, strings.Fields(after + " ")[0])
			}
		}
		if len(hashes) > len(d.configHashes) {
			hash = hashes[len(d.configHashes)]
		}
		return hash != ""
	})
	d.configHashes = append(d.configHashes, hash)
	return err
}

func quote(s string) string { return fmt.Sprintf("%q", strings.TrimSpace(s)) }

// waitDNS queries CoreDNS until it answers. The query asks for EDNS version 1, which
// CoreDNS answers with BADVERS before any plugin runs: the probe proves CoreDNS serves
// DNS without logging a line. An ordinary query would fail upstream and be logged, and
// become an event; so would a CHAOS-class one, which forward lets through.
func waitDNS(ctx context.Context, addr string, timeout time.Duration) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	q := new(dns.Msg)
	q.SetQuestion("probe.invalid.", dns.TypeA)
	q.SetEdns0(dns.MinMsgSize, false)
	q.IsEdns0().SetVersion(1)
	for {
		r, _, err := devenv.Exchange(addr, q)
		if err == nil {
			return r, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("CoreDNS did not answer DNS on %s within %v (last: %v)", addr, timeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// rcodeName names an rcode, extended ones included (16 is BADVERS in an answer).
func rcodeName(rcode int) string {
	if rcode == dns.RcodeBadVers {
		return "BADVERS"
	}
	return dns.RcodeToString[rcode]
}

// makeLogLines is step 4: an [ERROR] line from a failed query, and [INFO] from a reload.
func (d *demo) makeLogLines(ctx context.Context) error {
	d.con.Step("Make CoreDNS log",
		"A query that fails upstream makes the errors plugin log an [ERROR] line; an edit of",
		"the Corefile makes the reload plugin restart CoreDNS and log an [INFO] line.")

	d.con.Say("$ query example.org. A on %s", d.cf.dnsAddr())
	r, rtt, err := devenv.Query(d.cf.dnsAddr(), "example.org.", dns.TypeA)
	if err != nil {
		return fmt.Errorf("query example.org. A: %w", err)
	}
	d.con.Say("answer: %s after %v", rcodeName(r.Rcode), rtt.Round(time.Microsecond))
	lctx, cancel := context.WithTimeout(ctx, logLineTimeout)
	defer cancel()
	if _, err := d.coreDNS.WaitLine(lctx, "the [ERROR] line for example.org. A", func(l string) bool {
		return strings.Contains(l, "[ERROR] plugin/errors:") && strings.Contains(l, "example.org. A")
	}); err != nil {
		return err
	}

	d.con.Blank()
	d.con.Say("editing %s: adding `cache 30` before the forward line", filepath.Join(d.tmp, "Corefile"))
	if err := d.coreDNS.WriteCorefile(d.cf.withCache()); err != nil {
		return err
	}
	return d.waitReloadLine(ctx, logLineTimeout, "reload line "+quote(reloadLine))
}

// showEvents is step 5: the events of those lines, through the API and through kubectl.
func (d *demo) showEvents(ctx context.Context) error {
	d.con.Step("Find the events in the Kubernetes API",
		fmt.Sprintf("Listing the events in namespace %s with field selector", d.cl.eventNamespace),
		"    "+d.cl.eventSelector(),
		fmt.Sprintf("until the three expected ones are there (at most %v).", eventsTimeout),
		"Only plugin log lines (\"plugin/NAME: ...\") reach k8s_event: CoreDNS's own",
		"\"[INFO] Reloading\" and the log plugin's query lines do not become events.")
	wants := []wantEvent{
		{reason: "CoreDNSError", contains: "example.org. A", from: "the errors plugin's line for the failed query"},
		{reason: "CoreDNSInfo", contains: d.configHashes[0], from: "the reload plugin's line at start-up"},
		{reason: "CoreDNSInfo", contains: d.configHashes[1], from: "the reload plugin's line after the edit"},
	}
	if err := waitEvents(ctx, d.cl, d.coreDNSStarted.Truncate(time.Second), wants, eventsTimeout, d.con); err != nil {
		return err
	}
	if d.cl.podUID != "" {
		d.con.Say("every one carries the Pod's UID, which the plugin looked up: kubectl describe pod shows them.")
	}

	if d.cl.objectKind == "Pod" {
		if err := d.cl.run(ctx, d.con, "get", "events", "-n", d.cl.eventNamespace); err != nil {
			return err
		}
		if err := d.cl.run(ctx, d.con, "describe", "pod", d.cl.objectName, "-n", d.cl.eventNamespace); err != nil {
			return err
		}
		return nil
	}
	if err := d.cl.run(ctx, d.con, "get", "events", "-n", d.cl.eventNamespace, "--field-selector", "source=CoreDNS"); err != nil {
		return err
	}
	return nil
}

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
const reloadEdit = "    # Added by the demo: a real change, so that reload restarts CoreDNS.\n    cache 30\n    # Nothing listens"

// corefile is the demo's Corefile.
type corefile struct {
	dnsPort int
	text    string
}

// newCorefile fills the template in, on free ports.
func newCorefile(kubeconfig string) (*corefile, error) {
	dnsPort, err1 := devenv.FreePort()
	deadPort, err2 := devenv.FreePort()
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	return &corefile{dnsPort: dnsPort, text: fmt.Sprintf(corefileTemplate, dnsPort, kubeconfig, deadPort)}, nil
}

// dnsAddr is where CoreDNS serves.
func (cf *corefile) dnsAddr() string { return devenv.Loopback(cf.dnsPort) }

// withCache is the text with reloadEdit before the forward line.
func (cf *corefile) withCache() string {
	cf.text = strings.Replace(cf.text, "    # Nothing listens", reloadEdit, 1)
	return cf.text
}
