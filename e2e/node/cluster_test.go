package node

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	"github.com/coredns/k8s_event/internal/devenv/node"
	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

const (
	namespace  = "kube-system"
	deployment = "coredns"
	replicas   = 2
)

// timeout is a context for one step of a test, ended with the test.
func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// coreDNSPods are CoreDNS's Pods that are not terminating.
func coreDNSPods(ctx context.Context) ([]corev1.Pod, error) {
	d, err := suite.client.AppsV1().Deployments(namespace).Get(ctx, deployment, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return suite.node.Pods(ctx, d)
}

// readyPods waits for the rollout and returns CoreDNS's Pods.
func readyPods(t *testing.T) []corev1.Pod {
	t.Helper()
	ctx := timeout(t, 3*time.Minute)
	if err := suite.node.WaitRollout(ctx, namespace, deployment); err != nil {
		t.Fatalf("%v\n%s", err, diagnose(ctx))
	}
	pods, err := coreDNSPods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return pods
}

// query sends one query from inside the node's network.
func query(addr, name string, qtype uint16) (r *dns.Msg, err error) {
	err = node.InNetNS(func() (err error) {
		r, _, err = devenv.Query(addr, name, qtype)
		return err
	})
	return r, err
}

// failQuery sends a query for name until it is answered SERVFAIL: the *errors* plugin
// logs an error line naming it. CoreDNS forwards a name under example.org to the node's
// resolver, where nothing listens.
func failQuery(t *testing.T, pod *corev1.Pod, name string) {
	t.Helper()
	addr := pod.Status.PodIP + ":53"
	var last string
	for range 10 {
		r, err := query(addr, name, dns.TypeA)
		if err == nil && r.Rcode == dns.RcodeServerFailure {
			return
		}
		last = fmt.Sprint(r, err)
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("%s at %s (Pod %s): want SERVFAIL, got %s", name, addr, pod.Name, last)
}

// uniqueName is a name no other test queries, under example.org.
func uniqueName(t *testing.T) string {
	return fmt.Sprintf("%s-%d.example.org.", strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-")), time.Now().UnixNano()%1e6)
}

// waitEvent waits for an event of reason on pod (name and UID) whose message contains
// substr, and returns it.
func waitEvent(t *testing.T, pod *corev1.Pod, reason, substr string, d time.Duration) corev1.Event {
	t.Helper()
	var found corev1.Event
	_, err := devenv.WaitEvents(timeout(t, d), suite.client, pod.Namespace, pod.Name, fmt.Sprintf("%s event containing %q", reason, substr), func(evs []corev1.Event) bool {
		for _, e := range evs {
			if e.InvolvedObject.UID == pod.UID && e.Reason == reason && strings.Contains(e.Message, substr) {
				found = e
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// diagnose describes CoreDNS's Pods and the Deployment, for a failure message.
func diagnose(ctx context.Context) string {
	var b strings.Builder
	for _, args := range [][]string{
		{"-n", namespace, "get", "deployment,pods", "-o", "wide"},
		{"-n", namespace, "describe", "pods", "-l", "k8s-app=kube-dns"},
		{"-n", namespace, "logs", "-l", "k8s-app=kube-dns", "--tail", "30", "--prefix"},
	} {
		out, err := suite.node.Kubectl(ctx, args...)
		fmt.Fprintf(&b, "$ kubectl %s\n%s%v\n", strings.Join(args, " "), out, errOrEmpty(err))
	}
	b.WriteString("kubelet's last lines:\n" + suite.node.LogTail("kubelet", 15))
	return b.String()
}

func errOrEmpty(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// listEventsContaining lists the events on pod (name and UID) whose message contains
// substr.
func listEventsContaining(t *testing.T, pod *corev1.Pod, substr string) ([]corev1.Event, error) {
	evs, err := devenv.ListEvents(timeout(t, 30*time.Second), suite.client, pod.Namespace, pod.Name)
	var found []corev1.Event
	for _, e := range evs {
		if e.InvolvedObject.UID == pod.UID && strings.Contains(e.Message, substr) {
			found = append(found, e)
		}
	}
	return found, err
}

// metricsClient scrapes Pods from inside the node's network.
var metricsClient = &http.Client{Transport: &http.Transport{DialContext: node.Dial}}

// waitMetric waits until the series (name and label pairs) that pod's *prometheus*
// plugin exports (kubeadm's Corefile: port 9153) is at least min.
func waitMetric(t *testing.T, pod *corev1.Pod, name string, labels []string, min float64) {
	t.Helper()
	var got float64
	err := wait.PollUntilContextCancel(timeout(t, time.Minute), 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		m, err := devenv.ScrapeMetricsWith(ctx, metricsClient, pod.Status.PodIP+":9153")
		if err != nil {
			return false, nil
		}
		got = m.Get(name, labels...)
		return got >= min, nil
	})
	if err != nil {
		t.Fatalf("%s: %s%v is %v, want at least %v: %v", pod.Name, name, labels, got, min, err)
	}
}
