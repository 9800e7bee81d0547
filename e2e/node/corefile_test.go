package node

import (
	"context"
	"fmt"
	"github.com/coredns/k8s_event/internal/devenv/node"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"k8s.io/apimachinery/pkg/util/wait"
)

// corefileVersion counts the Corefiles setCorefile wrote.
var corefileVersion int

// setCorefile writes corefile, with a zone version.test that answers its version, into
// CoreDNS's ConfigMap, and waits until every Ready replica serves it: the kubelet
// updates the Pods' volume, then the *reload* plugin picks the change up.
func setCorefile(ctx context.Context, corefile string) error {
	corefileVersion++
	want := fmt.Sprintf("v%d", corefileVersion)
	if err := writeCorefile(ctx, corefile+versionZone(corefileVersion)); err != nil {
		return err
	}
	return waitCorefile(ctx, want)
}

// versionZone is a server block that answers TXT "vN" for version.test.
func versionZone(n int) string {
	return fmt.Sprintf("version.test:53 {\n    template IN TXT version.test {\n        answer \"version.test. 0 IN TXT v%d\"\n    }\n}\n", n)
}

// waitCorefile waits until every Ready replica answers version v.
func waitCorefile(ctx context.Context, v string) error {
	var state string
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := coreDNSPods(ctx)
		if err != nil {
			return false, nil
		}
		state = ""
		done := len(pods) > 0
		for _, p := range pods {
			got := "not Ready"
			if node.PodReady(&p) {
				got = servedVersion(p.Status.PodIP)
			}
			state += fmt.Sprintf(" %s: %s;", p.Name, got)
			done = done && got == v
		}
		return done, nil
	})
	if err != nil {
		return fmt.Errorf("the replicas do not serve Corefile %s (%s): %w", v, state, err)
	}
	return nil
}

// servedVersion is the version of the Corefile the CoreDNS at ip serves.
func servedVersion(ip string) string {
	r, err := query(ip+":53", "version.test.", dns.TypeTXT)
	switch {
	case err != nil:
		return err.Error()
	case len(r.Answer) != 1:
		return dns.RcodeToString[r.Rcode] + " without a version"
	}
	if txt, ok := r.Answer[0].(*dns.TXT); ok {
		return strings.Join(txt.Txt, "")
	}
	return r.Answer[0].String()
}

// withK8sEvent is corefile with its k8s_event directive (a line, or a block) replaced
// by directive.
func withK8sEvent(t *testing.T, corefile, directive string) string {
	t.Helper()
	lines := strings.SplitAfter(corefile, "\n")
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] != "k8s_event" {
			continue
		}
		end := i + 1
		if strings.HasSuffix(strings.TrimSpace(l), "{") {
			for end < len(lines) && strings.TrimSpace(lines[end-1]) != "}" {
				end++
			}
		}
		indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
		return strings.Join(lines[:i], "") + indent + directive + "\n" + strings.Join(lines[end:], "")
	}
	t.Fatalf("no k8s_event in the Corefile:\n%s", corefile)
	return ""
}

// restoreCorefile puts the suite's Corefile back when the test ends, and waits until
// every replica serves it.
func restoreCorefile(t *testing.T) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := setCorefile(ctx, suite.corefile); err != nil {
			t.Errorf("putting the suite's Corefile back: %v\n%s", err, diagnose(ctx))
		}
	})
}
