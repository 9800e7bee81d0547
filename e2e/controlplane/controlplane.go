// Package controlplane runs a throwaway Kubernetes control plane (etcd and
// kube-apiserver only: no controllers, no nodes) on loopback ports, for the
// end-to-end tests and `make run`. Build the binaries with tools/build.sh.
package controlplane

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	etcdReadyTimeout      = 30 * time.Second
	apiServerReadyTimeout = 60 * time.Second
	logTailLines          = 40 // lines of a log quoted in a start-up error
)

// Options configures Start.
type Options struct {
	// BinDir holds the etcd, kube-apiserver and kubectl binaries
	// (tools/build.sh writes them to .bin at the repository root).
	BinDir string
	// Logf, if set, receives progress messages (t.Logf fits).
	Logf func(format string, args ...any)
	// AuditLog makes the API server log every request on Events (both API
	// groups, denied ones included) at level Metadata to AuditLogPath.
	AuditLog bool
}

// ControlPlane is a running etcd and kube-apiserver. Its methods are safe for
// concurrent use.
type ControlPlane struct {
	opts    Options
	dir     string
	apiPort int
	host    string

	etcdArgs, apiArgs []string
	adminToken        string
	coreDNSToken      string

	mu        sync.Mutex
	etcd      *process
	apiserver *process

	adminConfig, coreDNSConfig *rest.Config
	adminClient, coreDNSClient *kubernetes.Clientset
}

// Start launches etcd and kube-apiserver in a new temporary directory and
// waits until the API server is ready. ctx bounds only the start-up: the
// processes run until Stop, and die with the calling process.
func Start(ctx context.Context, opts Options) (_ *ControlPlane, err error) {
	for _, name := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(opts.BinDir, name)); err != nil {
			return nil, fmt.Errorf("controlplane: %v (build the binaries with tools/build.sh)", err)
		}
	}
	dir, err := os.MkdirTemp("", "k8s-event-controlplane-")
	if err != nil {
		return nil, err
	}
	cp := &ControlPlane{opts: opts, dir: dir, adminToken: randomToken(), coreDNSToken: randomToken()}
	defer func() {
		if err != nil {
			cp.Stop()
		}
	}()
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	cp.apiPort = ports[2]
	cp.host = "https://127.0.0.1:" + strconv.Itoa(cp.apiPort)

	if err := cp.writeFiles(); err != nil {
		return nil, err
	}
	cp.etcdArgs = []string{
		"--name=default",
		"--data-dir=" + cp.path("etcd-data"),
		"--listen-client-urls=" + etcdURL,
		"--advertise-client-urls=" + etcdURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=default=" + peerURL,
		"--initial-cluster-state=new",
		"--unsafe-no-fsync", // throwaway data: trade durability for speed
	}
	cp.apiArgs = []string{
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(cp.apiPort),
		"--cert-dir=" + cp.path("certs"),
		"--etcd-servers=" + etcdURL,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + cp.path("sa.pub"),
		"--service-account-signing-key-file=" + cp.path("sa.key"),
		"--service-cluster-ip-range=10.0.0.0/24",
		"--authorization-mode=RBAC",
		"--endpoint-reconciler-type=none", // a loopback advertise address is refused otherwise
		"--token-auth-file=" + cp.path("tokens.csv"),
		"--anonymous-auth=false",
		"--profiling=false",
	}
	if opts.AuditLog {
		cp.apiArgs = append(cp.apiArgs,
			"--audit-policy-file="+cp.path("audit-policy.yaml"),
			"--audit-log-path="+cp.AuditLogPath())
	}

	cp.logf("controlplane: starting etcd on %s (dir %s)", etcdURL, dir)
	if cp.etcd, err = startProcess("etcd", filepath.Join(opts.BinDir, "etcd"), cp.etcdArgs, cp.EtcdLogPath()); err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, etcdURL+"/health", "", cp.etcd, cp.EtcdLogPath(), etcdReadyTimeout); err != nil {
		return nil, err
	}
	if err := cp.StartAPIServer(ctx); err != nil {
		return nil, err
	}
	if err := cp.initClients(); err != nil {
		return nil, err
	}
	return cp, nil
}

// writeFiles writes the service-account keys, token file and audit policy.
func (cp *ControlPlane) writeFiles() error {
	if err := writeServiceAccountKeys(cp.path("sa.key"), cp.path("sa.pub")); err != nil {
		return err
	}
	if err := writeTokenFile(cp.path("tokens.csv"), cp.adminToken, cp.coreDNSToken); err != nil {
		return err
	}
	return os.WriteFile(cp.path("audit-policy.yaml"), []byte(auditPolicy), 0o644)
}

// initClients writes the kubeconfigs and builds the clients. It needs the
// serving certificate, which the API server creates on its first start.
func (cp *ControlPlane) initClients() error {
	ca := filepath.Join(cp.path("certs"), "apiserver.crt")
	for _, id := range []struct {
		path, name, token string
		config            **rest.Config
		client            **kubernetes.Clientset
	}{
		{cp.AdminKubeconfig(), "admin", cp.adminToken, &cp.adminConfig, &cp.adminClient},
		{cp.CoreDNSKubeconfig(), "coredns", cp.coreDNSToken, &cp.coreDNSConfig, &cp.coreDNSClient},
	} {
		if err := writeKubeconfig(id.path, cp.host, ca, id.name, id.token); err != nil {
			return err
		}
		cfg, err := clientcmd.BuildConfigFromFlags("", id.path)
		if err != nil {
			return err
		}
		if *id.client, err = kubernetes.NewForConfig(cfg); err != nil {
			return err
		}
		*id.config = cfg
	}
	return nil
}

// StartAPIServer starts kube-apiserver (again) on the same port, with the
// same etcd and certificates, and waits until it is ready.
func (cp *ControlPlane) StartAPIServer(ctx context.Context) error {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if cp.apiserver != nil {
		if ended, _ := cp.apiserver.exited(); !ended {
			return errors.New("controlplane: kube-apiserver is already running")
		}
	}
	cp.logf("controlplane: starting kube-apiserver on %s", cp.host)
	start := time.Now()
	p, err := startProcess("kube-apiserver", filepath.Join(cp.opts.BinDir, "kube-apiserver"), cp.apiArgs, cp.APIServerLogPath())
	if err != nil {
		return err
	}
	cp.apiserver = p
	if err := waitHTTP(ctx, cp.host+"/readyz", cp.adminToken, p, cp.APIServerLogPath(), apiServerReadyTimeout); err != nil {
		return err
	}
	cp.logf("controlplane: kube-apiserver ready after %v", time.Since(start).Round(time.Millisecond))
	return nil
}

// StopAPIServer stops kube-apiserver, leaving etcd running, so that a test
// can see how clients behave while the API is down.
func (cp *ControlPlane) StopAPIServer() error {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	cp.logf("controlplane: stopping kube-apiserver")
	err := cp.apiserver.stop()
	cp.apiserver = nil
	return err
}

// Stop stops both processes and removes the temporary directory, logs
// included: read them (Tail) before calling Stop.
func (cp *ControlPlane) Stop() error {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	err := errors.Join(cp.apiserver.stop(), cp.etcd.stop())
	cp.apiserver, cp.etcd = nil, nil
	if cp.dir != "" {
		err = errors.Join(err, os.RemoveAll(cp.dir))
		cp.dir = ""
	}
	return err
}

// Host is the API server's URL (https://127.0.0.1:PORT).
func (cp *ControlPlane) Host() string { return cp.host }

// Dir is the temporary directory holding data, certificates, kubeconfigs and logs.
func (cp *ControlPlane) Dir() string { return cp.dir }

// AdminKubeconfig is the path of a kubeconfig for user admin (system:masters).
func (cp *ControlPlane) AdminKubeconfig() string { return cp.path("admin.kubeconfig") }

// CoreDNSKubeconfig is the path of a kubeconfig for CoreDNSUser, who has only
// the permissions bound to ServiceAccount kube-system/coredns.
func (cp *ControlPlane) CoreDNSKubeconfig() string { return cp.path("coredns.kubeconfig") }

// AdminConfig returns a copy of the admin client configuration.
func (cp *ControlPlane) AdminConfig() *rest.Config { return rest.CopyConfig(cp.adminConfig) }

// CoreDNSConfig returns a copy of the CoreDNS client configuration.
func (cp *ControlPlane) CoreDNSConfig() *rest.Config { return rest.CopyConfig(cp.coreDNSConfig) }

// AdminClient is a clientset authenticated as admin.
func (cp *ControlPlane) AdminClient() *kubernetes.Clientset { return cp.adminClient }

// CoreDNSClient is a clientset authenticated as CoreDNSUser.
func (cp *ControlPlane) CoreDNSClient() *kubernetes.Clientset { return cp.coreDNSClient }

// KubectlPath is the path of the kubectl binary in Options.BinDir.
func (cp *ControlPlane) KubectlPath() string { return filepath.Join(cp.opts.BinDir, "kubectl") }

// EtcdLogPath is the file receiving etcd's output.
func (cp *ControlPlane) EtcdLogPath() string { return cp.path("etcd.log") }

// APIServerLogPath is the file receiving kube-apiserver's output, across restarts.
func (cp *ControlPlane) APIServerLogPath() string { return cp.path("kube-apiserver.log") }

// AuditLogPath is the API server's audit log (JSON lines, one per request on
// Events), or "" unless Options.AuditLog is set.
func (cp *ControlPlane) AuditLogPath() string {
	if !cp.opts.AuditLog {
		return ""
	}
	return cp.path("audit.log")
}

// LogTails returns the last n lines of the etcd and kube-apiserver logs, for
// a failing test to print.
func (cp *ControlPlane) LogTails(n int) string {
	return fmt.Sprintf("--- %s:\n%s\n--- %s:\n%s\n",
		cp.EtcdLogPath(), Tail(cp.EtcdLogPath(), n), cp.APIServerLogPath(), Tail(cp.APIServerLogPath(), n))
}

func (cp *ControlPlane) path(name string) string { return filepath.Join(cp.dir, name) }

func (cp *ControlPlane) logf(format string, args ...any) {
	if cp.opts.Logf != nil {
		cp.opts.Logf(format, args...)
	}
}

// waitHTTP polls url until it answers 200, failing early if p exits and
// quoting the end of logPath on failure. A non-empty token is sent as a
// bearer token. The server certificate is not checked: it may not exist
// before the first success.
func waitHTTP(ctx context.Context, url, token string, p *process, logPath string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
	}
	defer client.CloseIdleConnections()
	last := "no answer yet"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if resp, err := client.Do(req); err != nil {
			last = err.Error()
		} else {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		}
		if ended, werr := p.exited(); ended {
			return fmt.Errorf("controlplane: %s exited (%v) before %s was ready; end of %s:\n%s",
				p.name, werr, url, logPath, Tail(logPath, logTailLines))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("controlplane: %s not ready after %v (last: %s); end of %s:\n%s",
				url, timeout, last, logPath, Tail(logPath, logTailLines))
		case <-time.After(100 * time.Millisecond):
		}
	}
}
