package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
)

// Bounds of the demo's waits.
const (
	dnsReadyTimeout = 30 * time.Second
	logLineTimeout  = 15 * time.Second // reload checks the file every 2s
	eventsTimeout   = 60 * time.Second
)

// reloadLine is what the reload plugin logs, at level info, each time a configuration
// starts: at start-up and after every reload.
const reloadLine = "plugin/reload: Running configuration SHA512 = "

// writeCorefile is step 2.
func (d *demo) writeCorefile(context.Context) (err error) {
	d.begin("Write a Corefile",
		"One server on 127.0.0.1 with k8s_event, and a forward to a port where nothing",
		"listens: every query fails there, and the errors plugin logs it.")
	if d.cf, err = newCorefile(d.cl.coreDNSKubeconfig); err != nil {
		return err
	}
	d.say("%s:", filepath.Join(d.tmp, "Corefile"))
	d.print("    | ", d.cf.text)
	return nil
}

// startCoreDNS is step 3: CoreDNS runs, its plugins are set up and it answers DNS.
func (d *demo) startCoreDNS(ctx context.Context) (err error) {
	if d.cl.podUID != "" {
		d.begin("Start CoreDNS",
			"With the variables a Pod's Downward API would set, but for COREDNS_POD_UID: left",
			"unset, it makes the plugin look the Pod's UID up itself.")
	} else {
		d.begin("Start CoreDNS",
			"Without COREDNS_POD_NAME and COREDNS_NAMESPACE: there is no Pod to report on.")
	}
	d.say("$ %s %s -conf %s", strings.Join(d.cl.coreDNSEnv, " "), filepath.Base(d.paths.CoreDNS), filepath.Join(d.tmp, "Corefile"))
	d.say("")
	d.started = time.Now()
	if d.c, err = devenv.StartCoreDNS(devenv.CoreDNSOptions{
		Binary: d.paths.CoreDNS, Corefile: d.cf.text, Dir: d.tmp, Env: d.cl.coreDNSEnv,
		Echo: func(l string) { d.print("coredns | ", l) },
	}); err != nil {
		return err
	}
	c := d.c
	d.atExit("stopping CoreDNS", func() error {
		if ended, _ := c.Exited(); ended {
			d.say("  it had already ended: %s", c.ExitStatus())
			return nil
		}
		err := c.Stop()
		d.say("  sent SIGTERM; CoreDNS ended: %s", c.ExitStatus())
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
	d.say("CoreDNS answers on %s: a probe asking for EDNS version 1 got %s, which CoreDNS",
		d.cf.dnsAddr(), rcodeName(r.Rcode))
	d.say("answers before any plugin runs, so the probe itself logs nothing.")
	return nil
}

// waitReloadLine waits for the next reload line and keeps its configuration's hash.
func (d *demo) waitReloadLine(ctx context.Context, timeout time.Duration, what string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var hash string
	err := d.c.WaitOutput(ctx, what, func(lines []string) bool {
		var hashes []string
		for _, l := range lines {
			if _, after, ok := strings.Cut(l, reloadLine); ok && len(strings.Fields(after)) > 0 {
				hashes = append(hashes, strings.Fields(after)[0])
			}
		}
		if len(hashes) > len(d.hashes) {
			hash = hashes[len(d.hashes)]
		}
		return hash != ""
	})
	d.hashes = append(d.hashes, hash)
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
	d.begin("Make CoreDNS log",
		"A query that fails upstream makes the errors plugin log an [ERROR] line; an edit of",
		"the Corefile makes the reload plugin restart CoreDNS and log an [INFO] line.")

	d.say("$ query example.org. A on %s", d.cf.dnsAddr())
	r, rtt, err := devenv.Query(d.cf.dnsAddr(), "example.org.", dns.TypeA)
	if err != nil {
		return fmt.Errorf("query example.org. A: %w", err)
	}
	d.say("answer: %s after %v", rcodeName(r.Rcode), rtt.Round(time.Microsecond))
	lctx, cancel := context.WithTimeout(ctx, logLineTimeout)
	defer cancel()
	if _, err := d.c.WaitLine(lctx, "the [ERROR] line for example.org. A", func(l string) bool {
		return strings.Contains(l, "[ERROR] plugin/errors:") && strings.Contains(l, "example.org. A")
	}); err != nil {
		return err
	}

	d.say("\nediting %s: adding `cache 30` before the forward line", filepath.Join(d.tmp, "Corefile"))
	if err := d.c.WriteCorefile(d.cf.withCache()); err != nil {
		return err
	}
	return d.waitReloadLine(ctx, logLineTimeout, "reload line "+quote(reloadLine))
}

// showEvents is step 5: the events of those lines, through the API and through kubectl.
func (d *demo) showEvents(ctx context.Context) error {
	d.begin("Find the events in the Kubernetes API",
		fmt.Sprintf("Listing the events in namespace %s on %s until the three expected ones", d.cl.namespace, d.cl.objectName),
		fmt.Sprintf("are there (at most %v).", eventsTimeout),
		"Only plugin log lines (\"plugin/NAME: ...\") reach k8s_event: CoreDNS's own",
		"\"[INFO] Reloading\" and the log plugin's query lines do not become events.")
	wants := []struct{ reason, contains string }{
		{"CoreDNSError", "example.org. A"}, // the errors plugin's line for the failed query
		{"CoreDNSInfo", d.hashes[0]},       // the reload plugin's line at start-up
		{"CoreDNSInfo", d.hashes[1]},       // the reload plugin's line after the edit
	}
	// Events older than CoreDNS (on an existing cluster, earlier runs left some) do not
	// count, nor, when there is a Pod, events without its UID: kubectl describe pod would
	// not show those.
	begun, found := time.Now(), make([]bool, len(wants))
	wctx, cancel := context.WithTimeout(ctx, eventsTimeout)
	defer cancel()
	_, err := devenv.WaitEvents(wctx, d.cl.admin, d.cl.namespace, d.cl.objectName, "events of those three lines", func(evs []corev1.Event) bool {
		for i, w := range wants {
			for _, e := range evs {
				if !found[i] && e.Reason == w.reason && strings.Contains(e.Message, w.contains) && e.InvolvedObject.UID == d.cl.podUID &&
					strings.HasPrefix(e.Source.Component, "CoreDNS/") && !e.LastTimestamp.Time.Before(d.started.Truncate(time.Second)) {
					found[i] = true
					o := e.InvolvedObject
					d.say("found after %.1fs: %s %s x%d on %s %s, host %q: %s", time.Since(begun).Seconds(), e.Type, e.Reason, e.Count,
						o.Kind, strings.TrimPrefix(o.Namespace+"/"+o.Name, "/")+strings.TrimSuffix(" (uid "+string(o.UID)+")", " (uid )"), e.Source.Host, e.Message)
				}
			}
		}
		return !slices.Contains(found, false)
	})
	if err != nil {
		return fmt.Errorf("%w\nlook for plugin/k8s_event warnings in the CoreDNS output above", err)
	}
	if d.cl.podUID != "" {
		d.say("every one carries the Pod's UID, which the plugin looked up: kubectl describe pod shows them.")
	}

	if d.cl.podUID == "" {
		return d.kubectl(ctx, "get", "events", "-n", d.cl.namespace, "--field-selector", "source=CoreDNS")
	}
	if err := d.kubectl(ctx, "get", "events", "-n", d.cl.namespace); err != nil {
		return err
	}
	return d.kubectl(ctx, "describe", "pod", d.cl.objectName, "-n", d.cl.namespace)
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
