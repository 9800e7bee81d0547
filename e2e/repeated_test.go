package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	corev1 "k8s.io/api/core/v1"
)

// repeats is how many times TestRepeatedLine lets CoreDNS print the same line.
const repeats = 3

// TestRepeatedLine: the same line printed again and again is one Event whose Count
// grows, by patches, not one Event per line. The line: the reload plugin's warning that
// the Corefile does not parse, which it repeats at every check until the file is fixed.
func TestRepeatedLine(t *testing.T) {
	t.Parallel()
	cl := sharedCluster(t)
	pod := cl.newPod(t)
	evs, msg, printed := repeatReloadWarning(t, cl, pod)
	if len(evs) != 1 || evs[0].Message != msg || int(evs[0].Count) != printed {
		t.Fatalf("want one event %q with count %d, got:\n%s", msg, printed, devenv.FormatEvents(evs))
	}
	checkEvent(t, evs[0], pod, reasonWarning)
	w := cl.waitAudit(t, printed, onPod(pod))
	if w.byVerb["create"] != 1 || w.byVerb["patch"] != printed-1 || w.allowed != printed {
		t.Errorf("audit log: want 1 create and %d patches, all allowed, got %v (%d allowed)", printed-1, w.byVerb, w.allowed)
	}
}

// repeatReloadWarning starts CoreDNS with k8s_event as pod and breaks its Corefile until
// the reload plugin has printed its parse-failure warning repeats times, then restores
// it. It returns pod's events once their counts add up to the warnings printed, the
// warning's event message, and how many were printed.
func repeatReloadWarning(t *testing.T, cl *cluster, pod *corev1.Pod) (evs []corev1.Event, msg string, printed int) {
	t.Helper()
	corefile := serverBlock(rootZone(freeAddr(t)), "errors", "reload 2s 1s", cl.kubeapi(), k8sEventDirective())
	c := startCoreDNS(t, corefile, podEnv(pod, true)...)

	if err := c.WriteCorefile(corefile + "broken {\n"); err != nil {
		t.Fatal(err)
	}
	const warning = "[WARNING] plugin/reload: Corefile parse failed: "
	waitOutput(t, c, repeats*reloadTimeout, fmt.Sprintf("%d parse failure warnings", repeats), func(lines []string) bool {
		return countLines(lines, warning, "") >= repeats
	})
	if err := c.WriteCorefile(corefile); err != nil { // the running configuration again: the warnings stop, nothing reloads
		t.Fatal(err)
	}
	msg = strings.TrimPrefix(waitLine(t, c, time.Second, "the warning", func(l string) bool { return strings.HasPrefix(l, warning) }), "[WARNING] ")
	evs = cl.waitEvents(t, pod, eventTimeout, "one event counting every warning", func(evs []corev1.Event) bool {
		printed = countLines(c.Lines(), warning, "")
		return totalCount(evs) >= printed
	})
	return evs, msg, printed
}
