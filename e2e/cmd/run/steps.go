package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// startCluster is step 1: a Kubernetes API to report to, local or that of $KUBECONFIG.
func (d *demo) startCluster(ctx context.Context) (err error) {
	if d.env.kubeconfig == "" {
		d.con.Step("Start a local Kubernetes API",
			"KUBECONFIG is not set, so the demo runs its own etcd and kube-apiserver on 127.0.0.1",
			"(no controller-manager, no node). It applies deploy/rbac.yaml, which lets",
			"ServiceAccount kube-system/coredns write Events and look up its Pod, and creates",
			"the Pod "+demoNamespace+"/"+demoPod+" for CoreDNS to report on.")
		if d.cl, err = startLocal(ctx, d.env, d.con, d.atExit); err != nil {
			return err
		}
		d.con.Blank()
		d.con.Say("To watch the events arrive, run in another terminal:")
		d.con.Say("    export KUBECONFIG=%s", d.cl.adminKubeconfig)
		d.con.Say("    kubectl get events -n %s -w", demoNamespace)
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
	if d.cf, err = writeCorefile(d.tmp, d.cl.coreDNSKubeconfig); err != nil {
		return err
	}
	d.con.Say("%s:", d.cf.path)
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
	env := append(withoutCoreDNSVars(os.Environ()), d.cl.coreDNSEnv...)
	d.con.Say("$ %s %s -conf %s", strings.Join(d.cl.coreDNSEnv, " "), filepath.Base(d.env.coreDNS), d.cf.path)
	d.con.Blank()
	d.coreDNSStarted = time.Now()
	lines := &lineWatch{}
	reloaded := lines.expect(reloadLine)
	if d.coreDNS, err = startCoreDNS(d.env.coreDNS, d.cf.path, env, lines, d.con); err != nil {
		return err
	}
	c := d.coreDNS
	d.atExit("stopping CoreDNS", func() error {
		signalled, err := c.stop()
		if signalled {
			d.con.Say("  sent SIGTERM; CoreDNS ended: %s", c.exitStatus())
		} else {
			d.con.Say("  it had already ended: %s", c.exitStatus())
		}
		return err
	})

	// The reload plugin logs its line once every OnStartup function, k8s_event's among
	// them, has run: from then on the plugin's log listener is in place.
	line, err := d.coreDNS.waitLine(ctx, reloaded, dnsReadyTimeout, "start-up line "+quote(reloadLine))
	if err != nil {
		return err
	}
	d.configHashes = append(d.configHashes, configHash(line))
	r, err := waitDNS(ctx, d.coreDNS, d.cf.dnsAddr(), dnsReadyTimeout)
	if err != nil {
		return err
	}
	d.con.Say("CoreDNS answers on %s: a probe asking for EDNS version 1 got %s, which CoreDNS",
		d.cf.dnsAddr(), rcodeName(r.Rcode))
	d.con.Say("answers before any plugin runs, so the probe itself logs nothing.")
	return nil
}

// withoutCoreDNSVars drops the COREDNS_* variables of the demo's own environment, so
// that CoreDNS sees only those the demo gives it.
func withoutCoreDNSVars(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "COREDNS_") {
			out = append(out, kv)
		}
	}
	return out
}

func quote(s string) string { return fmt.Sprintf("%q", strings.TrimSpace(s)) }

// configHash is the hash in a reload line.
func configHash(line string) string {
	_, after, _ := strings.Cut(line, reloadLine)
	if f := strings.Fields(after); len(f) > 0 {
		return f[0]
	}
	return ""
}

// makeLogLines is step 4: an [ERROR] line from a failed query, and [INFO] from a reload.
func (d *demo) makeLogLines(ctx context.Context) error {
	d.con.Step("Make CoreDNS log",
		"A query that fails upstream makes the errors plugin log an [ERROR] line; an edit of",
		"the Corefile makes the reload plugin restart CoreDNS and log an [INFO] line.")

	d.con.Say("$ query example.org. A on %s", d.cf.dnsAddr())
	logged := d.coreDNS.lines.expect("[ERROR] plugin/errors:", "example.org. A")
	r, rtt, err := query(ctx, d.cf.dnsAddr(), "example.org.", dns.TypeA)
	if err != nil {
		return fmt.Errorf("query example.org. A: %w", err)
	}
	d.con.Say("answer: %s after %v", rcodeName(r.Rcode), rtt.Round(time.Microsecond))
	if _, err := d.coreDNS.waitLine(ctx, logged, logLineTimeout, "[ERROR] line for example.org. A"); err != nil {
		return err
	}

	d.con.Blank()
	d.con.Say("editing %s: adding `cache 30` before the forward line", d.cf.path)
	reloaded := d.coreDNS.lines.expect(reloadLine)
	if err := d.cf.addCache(); err != nil {
		return err
	}
	line, err := d.coreDNS.waitLine(ctx, reloaded, logLineTimeout, "reload line "+quote(reloadLine))
	if err != nil {
		return err
	}
	d.configHashes = append(d.configHashes, configHash(line))
	return nil
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
		if err := kubectl(ctx, d.cl, d.con, "get", "events", "-n", d.cl.eventNamespace); err != nil {
			return fmt.Errorf("kubectl get events: %w", err)
		}
		if err := kubectl(ctx, d.cl, d.con, "describe", "pod", d.cl.objectName, "-n", d.cl.eventNamespace); err != nil {
			return fmt.Errorf("kubectl describe pod: %w", err)
		}
		return nil
	}
	if err := kubectl(ctx, d.cl, d.con, "get", "events", "-n", d.cl.eventNamespace, "--field-selector", "source=CoreDNS"); err != nil {
		return fmt.Errorf("kubectl get events: %w", err)
	}
	return nil
}
