package controlplane

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// binDir returns $K8S_EVENT_BIN_DIR, failing the test if the binaries are
// not there: a missing control plane is an error, never a skip.
func binDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("K8S_EVENT_BIN_DIR")
	if dir == "" {
		t.Fatal("K8S_EVENT_BIN_DIR is not set: run tools/build.sh and set it to the repository's .bin directory")
	}
	for _, name := range []string{"etcd", "kube-apiserver", "kubectl"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Fatalf("K8S_EVENT_BIN_DIR=%s: %v (run tools/build.sh)", dir, err)
		}
	}
	return dir
}

// start starts a control plane that stops with the test, printing the end of
// its logs if the test failed.
func start(t *testing.T, ctx context.Context, audit bool) *ControlPlane {
	t.Helper()
	began := time.Now()
	cp, err := Start(ctx, Options{BinDir: binDir(t), Logf: t.Logf, AuditLog: audit})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("control plane ready after %v", time.Since(began).Round(time.Millisecond))
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(cp.LogTails(60))
		}
		if err := cp.Stop(); err != nil {
			t.Error(err)
		}
	})
	return cp
}

func event(ns, name string, pod *corev1.Pod) *corev1.Event {
	return &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		InvolvedObject: corev1.ObjectReference{
			Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID,
		},
		Reason:  "Test",
		Message: "written by controlplane_test",
		Type:    corev1.EventTypeWarning,
		Source:  corev1.EventSource{Component: "k8s_event"},
	}
}

func TestControlPlane(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cp := start(t, ctx, true)

	pod, err := cp.Bootstrap(ctx, BootstrapOptions{Files: []string{"../../deploy/rbac.yaml"}})
	if err != nil {
		t.Fatal(err)
	}
	if pod.Name != DefaultPodName || pod.UID == "" {
		t.Fatalf("Bootstrap returned Pod %q with UID %q", pod.Name, pod.UID)
	}
	c := cp.CoreDNSClient()

	t.Run("event in kube-system allowed", func(t *testing.T) {
		if _, err := c.CoreV1().Events("kube-system").Create(ctx, event("kube-system", "allowed", pod), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("event in default forbidden", func(t *testing.T) {
		_, err := c.CoreV1().Events("default").Create(ctx, event("default", "denied", pod), metav1.CreateOptions{})
		if !apierrors.IsForbidden(err) {
			t.Fatalf("got %v, want Forbidden", err)
		}
	})
	t.Run("pod lookup allowed", func(t *testing.T) { checkPodLookup(t, ctx, c, pod) })
	t.Run("kubectl with the CoreDNS kubeconfig", func(t *testing.T) {
		// Also checks the kubeconfig file itself, which CoreDNS's kubeapi reads.
		for _, tc := range []struct{ ns, want string }{{"kube-system", "yes"}, {"default", "no"}} {
			out, _ := exec.CommandContext(ctx, cp.KubectlPath(), "--kubeconfig="+cp.CoreDNSKubeconfig(),
				"auth", "can-i", "create", "events", "-n", tc.ns).CombinedOutput()
			if got := strings.TrimSpace(string(out)); got != tc.want {
				t.Errorf("can-i create events in %s: got %q, want %q", tc.ns, got, tc.want)
			}
		}
	})
	t.Run("audit log", func(t *testing.T) {
		// One allowed and one denied create, both by the CoreDNS user.
		waitFor(t, 10*time.Second, func() bool {
			data, _ := os.ReadFile(cp.AuditLogPath())
			s := string(data)
			return strings.Count(s, `"username":"`+CoreDNSUser+`"`) >= 2 && strings.Contains(s, `"code":403`)
		})
	})
	t.Run("bootstrap again with the kubernetes plugin's ClusterRole", func(t *testing.T) {
		files := []string{"../../deploy/rbac.yaml", "../../deploy/coredns-clusterrole.yaml"}
		again, err := cp.Bootstrap(ctx, BootstrapOptions{Files: files})
		if err != nil {
			t.Fatal(err)
		}
		if again.UID != pod.UID {
			t.Errorf("second Bootstrap returned UID %s, want the existing %s", again.UID, pod.UID)
		}
		if _, err := c.DiscoveryV1().EndpointSlices("").List(ctx, metav1.ListOptions{}); err != nil {
			t.Error(err)
		}
	})
	t.Run("API server restart", func(t *testing.T) {
		if err := cp.StopAPIServer(); err != nil {
			t.Fatal(err)
		}
		short, cancelShort := context.WithTimeout(ctx, 2*time.Second)
		_, err := c.CoreV1().Pods("kube-system").List(short, metav1.ListOptions{})
		cancelShort()
		if err == nil {
			t.Fatal("listing pods succeeded with the API server stopped")
		}
		began := time.Now()
		if err := cp.StartAPIServer(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("API server restarted in %v", time.Since(began).Round(time.Millisecond))
		checkPodLookup(t, ctx, c, pod)
	})
}

// checkPodLookup does what k8s_event does to find its Pod's UID.
func checkPodLookup(t *testing.T, ctx context.Context, c kubernetes.Interface, pod *corev1.Pod) {
	t.Helper()
	list, err := c.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + pod.Name})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].UID != pod.UID {
		t.Fatalf("listed %d pods, want exactly %s/%s with UID %s", len(list.Items), pod.Namespace, pod.Name, pod.UID)
	}
}

func waitFor(t *testing.T, timeout time.Duration, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !ok(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", timeout)
		}
	}
}
