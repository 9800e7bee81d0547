//go:build alerting

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// server is a Prometheus or an Alertmanager of the alerting test, built by make alerting
// (tools/build.sh alerting) into the suite's bin directory, on a loopback port.
type server struct {
	name string
	addr string // host:port of its HTTP API
}

// startServer runs the suite's binary name with args and waits until its /-/ready
// answers 200; it is stopped when t ends, and its log printed if t failed.
func startServer(t *testing.T, name, addr string, args ...string) *server {
	t.Helper()
	bin := filepath.Join(suite.paths.BinDir, name)
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s: %v (make alerting builds it)", name, err)
	}
	logPath := filepath.Join(t.TempDir(), name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		logFile.Close()
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			t.Logf("%s log (last 60 lines):\n%s", name, tailLines(string(out), 60))
		}
	})
	s := &server{name: name, addr: addr}
	setUp(t, name+" ready", func(ctx context.Context) error {
		for {
			select {
			case err := <-exited:
				return fmt.Errorf("%s exited: %v", name, err)
			default:
			}
			if resp, err := http.Get(s.url("/-/ready")); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	})
	return s
}

func (s *server) url(path string) string { return "http://" + s.addr + path }

// getJSON decodes the JSON answer to GET path into v.
func (s *server) getJSON(path string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url(path), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s GET %s: %s", s.name, path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// tailLines returns the last n lines of s.
func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// startAlertmanager runs Alertmanager with testdata/alertmanager.yaml (kube-prometheus-
// stack's default inhibit rules), alone (no cluster peers).
func startAlertmanager(t *testing.T) *server {
	t.Helper()
	cfg, err := filepath.Abs("testdata/alertmanager.yaml")
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	return startServer(t, "alertmanager", addr, "--config.file="+cfg, "--storage.path="+t.TempDir(),
		"--web.listen-address="+addr, "--cluster.listen-address=")
}

// scrapeTarget is a CoreDNS Pod's metrics address and the labels prometheus-operator's
// relabelling gives its series.
type scrapeTarget struct {
	addr           string
	namespace, pod string
}

// monitorJobs are the two jobs that scrape every CoreDNS Pod where kube-prometheus-stack
// runs and the operator added a PodMonitor: the stack's coredns ServiceMonitor (job from
// its Service's jobLabel label, coredns) and a PodMonitor kube-system/coredns (job
// NAMESPACE/NAME), each with the target labels it adds.
var monitorJobs = []struct {
	job    string
	labels map[string]string
}{
	{"coredns", map[string]string{"service": "kube-prometheus-stack-coredns", "endpoint": "http-metrics", "container": "coredns"}},
	{"kube-system/coredns", map[string]string{"endpoint": "metrics", "container": "coredns"}},
}

// startPrometheus runs Prometheus scraping every target under each of monitorJobs, every
// interval, evaluating ruleFiles as often and sending alerts to am.
func startPrometheus(t *testing.T, am *server, interval time.Duration, targets []scrapeTarget, ruleFiles ...string) *server {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  scrape_interval: %s\n  scrape_timeout: %s\n  evaluation_interval: %s\n", interval, interval, interval)
	b.WriteString("rule_files:\n")
	for _, f := range ruleFiles {
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "- %q\n", abs)
	}
	fmt.Fprintf(&b, "alerting:\n  alertmanagers:\n  - static_configs:\n    - targets: [%q]\n", am.addr)
	b.WriteString("scrape_configs:\n")
	for _, j := range monitorJobs {
		fmt.Fprintf(&b, "- job_name: %q\n  static_configs:\n", j.job)
		for _, tg := range targets {
			fmt.Fprintf(&b, "  - targets: [%q]\n    labels:\n      namespace: %q\n      pod: %q\n", tg.addr, tg.namespace, tg.pod)
			for k, v := range j.labels {
				fmt.Fprintf(&b, "      %s: %q\n", k, v)
			}
		}
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("prometheus.yml:\n%s", b.String())
	addr := freeAddr(t)
	// resend-delay: an alert still firing is sent again at every evaluation, not once a
	// minute, so that Alertmanager keeps it as long as it fires.
	return startServer(t, "prometheus", addr, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--rules.alert.resend-delay="+interval.String())
}

// promQuery runs an instant PromQL query and returns its vector's samples' labels and
// values.
func promQuery(p *server, query string) ([]map[string]string, error) {
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := p.getJSON("/api/v1/query?query="+url.QueryEscape(query), &r); err != nil {
		return nil, err
	}
	var out []map[string]string
	for _, s := range r.Data.Result {
		out = append(out, s.Metric)
	}
	return out, nil
}

// amAlert is an alert as Alertmanager's API v2 lists it.
type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Fingerprint string            `json:"fingerprint"`
	Status      struct {
		State       string   `json:"state"` // active, suppressed or unprocessed
		InhibitedBy []string `json:"inhibitedBy"`
	} `json:"status"`
}

// amAlerts lists the alerts Alertmanager holds (resolved ones aside), with whether its
// inhibit rules mute each.
func amAlerts(am *server) ([]amAlert, error) {
	var alerts []amAlert
	return alerts, am.getJSON("/api/v2/alerts", &alerts)
}
