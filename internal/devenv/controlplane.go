package devenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// auditPolicy records every request on Events (both API groups), and every request of a
// ServiceAccount (such as CoreDNS's), denied ones included, at level Metadata: who did
// what, and the response code, but no bodies.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  resources:
  - {group: "", resources: ["events"]}
  - {group: "events.k8s.io", resources: ["events"]}
- level: Metadata
  userGroups: ["system:serviceaccounts"]
- level: None
`

// ControlPlane is etcd and kube-apiserver on loopback, started by envtest from the
// binaries in Paths.BinDir: RBAC on, no controllers, no nodes (Pods stay Pending), an
// audit log of every request on Events. Users authenticate with client certificates
// (the admin) or ServiceAccount tokens (ServiceAccountKubeconfig).
type ControlPlane struct {
	env     *envtest.Environment
	gate    *gate
	admin   *rest.Config // through the gate
	dir     string
	logs    *os.File // etcd's and kube-apiserver's output
	kubectl string
	client  *kubernetes.Clientset
	apply   client.Client
}

func init() { ctrllog.SetLogger(logr.Discard()) } // envtest logs nothing we read

// StartControlPlane starts etcd and kube-apiserver in a new temporary directory and
// waits until the API is ready, for as long as ctx lasts (startLimit without a
// deadline). Stop removes the directory. Options change how kube-apiserver runs
// (admission.go).
func StartControlPlane(ctx context.Context, binDir string, opts ...Option) (_ *ControlPlane, err error) {
	for _, name := range []string{"etcd", "kube-apiserver", "kubectl"} {
		if _, err := os.Stat(filepath.Join(binDir, name)); err != nil {
			return nil, fmt.Errorf("%v (build it with make controlplane)", err)
		}
	}
	dir, err := os.MkdirTemp("", "k8s-event-devenv-")
	if err != nil {
		return nil, err
	}
	cp := &ControlPlane{dir: dir, kubectl: filepath.Join(binDir, "kubectl")}
	began := time.Now()
	defer func() {
		if err != nil {
			err = fmt.Errorf("starting the control plane (etcd, then kube-apiserver until ready), for %v: %w\n%s",
				time.Since(began).Round(time.Millisecond), err, cp.LogTail(30))
			cp.Stop()
		}
	}()
	if cp.logs, err = os.Create(cp.LogPath()); err != nil {
		return nil, err
	}
	if err := errors.Join(os.WriteFile(cp.path("audit-policy.yaml"), []byte(auditPolicy), 0o644), os.Mkdir(cp.path("certs"), 0o700)); err != nil {
		return nil, err
	}
	// A certificate directory of our own: envtest keeps it across a restart, and with
	// it the serving certificate and the ServiceAccount signing key.
	// The API server's port comes from FreePort, not from envtest, which reserves the
	// ports it picks for 2 minutes only: a port of ours is never given out again in this
	// process, so StartAPIServer finds it free after an outage of any length, however many
	// control planes start meanwhile.
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	api := &envtest.APIServer{Path: filepath.Join(binDir, "kube-apiserver"), CertDir: cp.path("certs"), SecurePort: port, Out: cp.logs, Err: cp.logs}
	api.Configure().
		Set("advertise-address", "127.0.0.1").
		Set("endpoint-reconciler-type", "none"). // a loopback advertise address is refused otherwise
		Set("audit-policy-file", cp.path("audit-policy.yaml")).
		Set("audit-log-path", cp.AuditLogPath()).
		Set("profiling", "false")
	if err := applyOptions(api.Configure(), cp.dir, opts); err != nil {
		return nil, err
	}
	cp.env = &envtest.Environment{
		ControlPlane: envtest.ControlPlane{
			APIServer:   api,
			Etcd:        &envtest.Etcd{Path: filepath.Join(binDir, "etcd"), DataDir: cp.path("etcd"), Out: cp.logs, Err: cp.logs},
			KubectlPath: cp.kubectl,
		},
		ControlPlaneStartTimeout: startLimit(ctx),
		ControlPlaneStopTimeout:  20 * time.Second,
	}
	direct, err := cp.env.Start()
	if err != nil {
		return nil, err
	}
	if cp.gate, err = newGate(strings.TrimSuffix(strings.TrimPrefix(direct.Host, "https://"), "/")); err != nil {
		return nil, err
	}
	if err := cp.gate.openWhenReady(ctx, direct); err != nil {
		return nil, err
	}
	cp.admin = rest.CopyConfig(direct)
	cp.admin.Host = "https://" + cp.gate.addr
	// No client-side rate limit (client-go's default is 5 requests a second, bursts of
	// 10): the admin sets up and checks, and a set-up waiting on its own limiter would
	// count the client's pace instead of the API server's.
	cp.admin.QPS, cp.admin.Burst = -1, 0
	if cp.client, err = kubernetes.NewForConfig(cp.admin); err != nil {
		return nil, err
	}
	if cp.apply, err = client.New(cp.admin, client.Options{}); err != nil {
		return nil, err
	}
	return cp, writeKubeconfig(cp.AdminKubeconfig(), cp.admin, &clientcmdapi.AuthInfo{ClientCertificateData: cp.admin.CertData, ClientKeyData: cp.admin.KeyData})
}

// StopAPIServer stops kube-apiserver, leaving etcd running.
func (cp *ControlPlane) StopAPIServer() error {
	cp.gate.close()
	return cp.env.ControlPlane.APIServer.Stop()
}

// StartAPIServer starts kube-apiserver again after StopAPIServer, and returns once it
// is ready, waiting for as long as ctx lasts: same port, etcd, certificates and keys,
// so every client and kubeconfig works again, and every object is still there with its
// UID.
func (cp *ControlPlane) StartAPIServer(ctx context.Context) error {
	began := time.Now()
	api := cp.env.ControlPlane.APIServer
	api.StartTimeout = startLimit(ctx)
	err := api.Start()
	if err == nil {
		err = cp.gate.openWhenReady(ctx, cp.env.Config)
	}
	if err != nil {
		return fmt.Errorf("restarting kube-apiserver, until ready, for %v: %w\n%s", time.Since(began).Round(time.Millisecond), err, cp.LogTail(30))
	}
	return nil
}

// defaultStartLimit bounds a start whose context has no deadline (the demo, the
// benchmarks).
const defaultStartLimit = 5 * time.Minute

// startLimit is how long a process may take to start: until ctx's deadline.
func startLimit(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return max(time.Until(d), time.Second)
	}
	return defaultStartLimit
}

// Stop stops kube-apiserver and etcd and removes the directory, logs included.
func (cp *ControlPlane) Stop() error {
	var err error
	if cp.gate != nil {
		cp.gate.close()
	}
	if cp.env != nil {
		err = cp.env.Stop()
	}
	if cp.logs != nil {
		cp.logs.Close()
	}
	return errors.Join(err, os.RemoveAll(cp.dir))
}

// StopOnSignal stops the control plane, then exits with code 130, when the process gets
// SIGINT or SIGTERM: envtest does not tie etcd and kube-apiserver to the life of the
// process that started them, so a program that died of the signal would leave them
// running. The function it returns stops watching.
func (cp *ControlPlane) StopOnSignal() (cancel func()) {
	sigs, done := make(chan os.Signal, 1), make(chan struct{})
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-sigs:
			cp.Stop()
			os.Exit(130)
		case <-done:
		}
	}()
	return func() { signal.Stop(sigs); close(done) }
}

// Host is the API server's URL: that of the gate in front of it, open only while the
// API server is ready.
func (cp *ControlPlane) Host() string { return cp.admin.Host }

// AdminConfig is a copy of the client configuration of the admin (group system:masters).
func (cp *ControlPlane) AdminConfig() *rest.Config { return rest.CopyConfig(cp.admin) }

// AdminClient is a clientset authenticated as the admin.
func (cp *ControlPlane) AdminClient() kubernetes.Interface { return cp.client }

// AdminKubeconfig is the path of a kubeconfig for the admin.
func (cp *ControlPlane) AdminKubeconfig() string { return cp.path("admin.kubeconfig") }

// AuditLogPath is the API server's audit log: JSON lines, one per request on Events or
// of a ServiceAccount.
func (cp *ControlPlane) AuditLogPath() string { return cp.path("audit.log") }

// LogPath is the file holding etcd's and kube-apiserver's output.
func (cp *ControlPlane) LogPath() string { return cp.path("controlplane.log") }

// LogTail is the end of LogPath, n lines, for a failure message.
func (cp *ControlPlane) LogTail(n int) string {
	data, _ := os.ReadFile(cp.LogPath())
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// Kubectl runs kubectl as the admin and returns its combined output.
func (cp *ControlPlane) Kubectl(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, cp.kubectl, append([]string{"--kubeconfig=" + cp.AdminKubeconfig()}, args...)...).CombinedOutput()
	if err != nil {
		err = fmt.Errorf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), err
}

func (cp *ControlPlane) path(name string) string { return filepath.Join(cp.dir, name) }
