package k8s_event

import (
	"fmt"
	"net"
	"testing"

	"github.com/coredns/coredns/core/dnsserver"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
)

func TestReloadKeepsCountingRepeatedLines(t *testing.T) {
	client := newFake()
	useFakeClient(t, client)
	setPodEnv(t, true)
	stanza := "k8s_event {\n rate 1 256\n }"
	inst := startCoreDNS(t, corefile(stanza))
	errorsLog.Error("parse failed")
	for i := range 3 {
		next, err := inst.Restart(input(corefile(stanza) + fmt.Sprintf("# %d\n", i)))
		if err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		inst = next
		errorsLog.Error("parse failed")
	}
	evs := stopAndList(t, inst, client)
	inst.Stop()
	if n, count := countMessage(evs, "plugin/errors: parse failed"); n != 1 || count != 4 {
		t.Errorf("want one event with Count 4 for a line repeated across 3 reloads, got %s", describe(evs))
	}
}

// clientPerStart hands each caddy instance's kubeapi a fresh fake, as a reload that
// changes kubeapi's settings would.
func clientPerStart(t *testing.T) *[]*fake.Clientset {
	t.Helper()
	useFakeClient(t, nil)
	var made []*fake.Clientset
	kubeClient = func(*dnsserver.Config) (kubernetes.Interface, error) {
		c := newFake()
		made = append(made, c)
		return c, nil
	}
	return &made
}

func TestReloadUsesTheNewConnection(t *testing.T) {
	clients := clientPerStart(t)
	setPodEnv(t, true)
	stanza := "k8s_event {\n rate 1 256\n }"
	inst := startCoreDNS(t, corefile(stanza))
	errorsLog.Error("first")
	eventuallyEvents(t, (*clients)[0], testNS, "the first event", func(evs []corev1.Event) bool { return len(evs) == 1 })

	next, err := inst.Restart(input(corefile(stanza) + "# new connection\n"))
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	errorsLog.Error("second")
	stopAndList(t, next, (*clients)[1])
	next.Stop()
	if got := events(t, (*clients)[1], testNS); len(got) != 1 || got[0].Message != "plugin/errors: second" {
		t.Errorf("the new connection got %s, want the second line", describe(got))
	}
	if got := events(t, (*clients)[0], testNS); len(got) != 1 {
		t.Errorf("the old connection got %s, want only the first line", describe(got))
	}
}

func TestReloadFailingAfterStartKeepsReporting(t *testing.T) {
	clients := clientPerStart(t)
	setPodEnv(t, true)
	// The new configuration starts (k8s_event included) but cannot listen: caddy then
	// keeps the running instance, which must take its reporter and connection back.
	taken, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.LocalAddr().(*net.UDPAddr).Port

	for _, newStanza := range []string{"k8s_event {\n rate 1 256\n }", "k8s_event {\n level error\n rate 1 256\n }"} {
		t.Run(newStanza, func(t *testing.T) {
			*clients = nil
			inst := startCoreDNS(t, corefile("k8s_event {\n rate 1 256\n }"))
			bad := corefile(newStanza) + fmt.Sprintf("example.net:%d {\n kubeapi {\n  endpoint http://127.0.0.1:1\n }\n}\n", port)
			if _, err := inst.Restart(input(bad)); err == nil {
				t.Fatal("expected the reload to fail on the taken port")
			}
			if len(*clients) != 2 {
				t.Fatalf("the failed configuration did not get as far as starting k8s_event (%d clients)", len(*clients))
			}
			errorsLog.Error("after failed reload")
			stopAndList(t, inst, (*clients)[0])
			inst.Stop()
			if got := events(t, (*clients)[0], testNS); len(got) != 1 {
				t.Errorf("the running instance's connection got %s, want the line", describe(got))
			}
			if got := events(t, (*clients)[1], testNS); len(got) != 0 {
				t.Errorf("the failed instance's connection got %s, want nothing", describe(got))
			}
			if activeReporter() != nil {
				t.Error("a reporter is still active after the final shutdown")
			}
		})
	}
}
