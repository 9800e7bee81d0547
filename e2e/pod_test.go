package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coredns/k8s_event/e2e/controlplane"
	corev1 "k8s.io/api/core/v1"
)

// nodeName is what the tests give CoreDNS as COREDNS_NODE_NAME.
const nodeName = "e2e-node"

// podSeq keeps Pod names unique across the tests of one run.
var podSeq atomic.Int32

// newPod bootstraps kube-system with the given RBAC files (deploy/rbac.yaml if none) and
// creates a CoreDNS Pod object named after the test, for this test alone. If the test
// fails, the end of the control plane's logs is printed.
func newPod(t *testing.T, files ...string) *corev1.Pod {
	t.Helper()
	cp := requireSuite(t)
	if len(files) == 0 {
		files = []string{rbacFile()}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	pod, err := cp.Bootstrap(ctx, controlplane.BootstrapOptions{Files: files, PodName: podName(t)})
	if err != nil {
		t.Fatalf("bootstrap: %v\n%s", err, cp.LogTails(40))
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("control plane logs:\n%s", cp.LogTails(40))
		}
	})
	return pod
}

// podName turns the test name into a unique DNS-1123 name.
func podName(t *testing.T) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(t.Name()) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	name := strings.TrimSuffix(b.String(), "-")
	if len(name) > 50 {
		name = strings.TrimSuffix(name[:50], "-")
	}
	return fmt.Sprintf("%s-%d", name, podSeq.Add(1))
}

// podEnv is the Downward API environment a CoreDNS Pod would have. Without withUID the
// plugin has to look the UID up.
func podEnv(pod *corev1.Pod, withUID bool) []string {
	env := []string{
		"COREDNS_POD_NAME=" + pod.Name,
		"COREDNS_NAMESPACE=" + pod.Namespace,
		"COREDNS_NODE_NAME=" + nodeName,
	}
	if withUID {
		env = append(env, "COREDNS_POD_UID="+string(pod.UID))
	}
	return env
}
