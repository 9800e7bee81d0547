//go:build consumer

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// otelcol is an OpenTelemetry Collector (tools/otelcol: the k8sevents receiver and the
// file exporter) watching the events of one namespace and writing them to a file.
type otelcol struct {
	out    string // the file exporter's file
	cmd    *exec.Cmd
	exited chan error // receives how it exited, then is closed
}

// startOtelcol runs the collector against cl's API server as the admin, watching
// namespace; it is stopped when t ends.
func startOtelcol(t *testing.T, cl *cluster, namespace string) *otelcol {
	t.Helper()
	bin := filepath.Join(suite.paths.BinDir, "otelcol")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the collector: %v (make otelcol builds it)", err)
	}
	dir := t.TempDir()
	oc := &otelcol{out: filepath.Join(dir, "events.json")}
	config := fmt.Sprintf(`receivers:
  k8s_events:
    auth_type: kubeConfig
    namespaces: [%s]
exporters:
  file:
    path: %s
    flush_interval: 100ms
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    logs:
      receivers: [k8s_events]
      exporters: [file]
`, namespace, oc.out)
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "otelcol.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	oc.cmd = exec.Command(bin, "--config", cfgPath)
	oc.cmd.Env = append(os.Environ(), "KUBECONFIG="+cl.cp.AdminKubeconfig())
	oc.cmd.Stdout, oc.cmd.Stderr = logFile, logFile
	oc.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := oc.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	oc.exited = make(chan error, 1)
	go func() { oc.exited <- oc.cmd.Wait(); close(oc.exited) }()
	t.Cleanup(func() {
		oc.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-oc.exited:
		case <-time.After(10 * time.Second):
			oc.cmd.Process.Kill()
			<-oc.exited
		}
		logFile.Close()
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			t.Logf("collector log:\n%s", out)
		}
	})
	return oc
}

// otelRecord is one log record the collector exported: one event as the receiver saw
// it, on its creation or on an update.
type otelRecord struct {
	Object    string    // the involved object's name
	Name      string    // the event's name
	Reason    string    // k8s.event.reason
	Message   string    // the body
	Count     int       // k8s.event.count
	Timestamp time.Time // the event's lastTimestamp
	Attrs     map[string]string
}

// records reads every record the collector has exported so far.
func (oc *otelcol) records(t *testing.T) []otelRecord {
	t.Helper()
	f, err := os.Open(oc.out)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type kv struct {
		Key   string `json:"key"`
		Value struct {
			String *string `json:"stringValue"`
			Int    *string `json:"intValue"`
		} `json:"value"`
	}
	attrs := func(kvs []kv) map[string]string {
		m := map[string]string{}
		for _, a := range kvs {
			switch {
			case a.Value.String != nil:
				m[a.Key] = *a.Value.String
			case a.Value.Int != nil:
				m[a.Key] = *a.Value.Int
			}
		}
		return m
	}
	var recs []otelRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var line struct {
			ResourceLogs []struct {
				Resource struct {
					Attributes []kv `json:"attributes"`
				} `json:"resource"`
				ScopeLogs []struct {
					LogRecords []struct {
						Time       string                       `json:"timeUnixNano"`
						Body       struct{ StringValue string } `json:"body"`
						Attributes []kv                         `json:"attributes"`
					} `json:"logRecords"`
				} `json:"scopeLogs"`
			} `json:"resourceLogs"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			continue // a line the exporter is still writing
		}
		for _, rl := range line.ResourceLogs {
			res := attrs(rl.Resource.Attributes)
			for _, sl := range rl.ScopeLogs {
				for _, lr := range sl.LogRecords {
					a := attrs(lr.Attributes)
					for k, v := range res {
						a[k] = v
					}
					count, _ := strconv.Atoi(a["k8s.event.count"])
					ns, _ := strconv.ParseInt(lr.Time, 10, 64)
					recs = append(recs, otelRecord{Object: a["k8s.object.name"], Name: a["k8s.event.name"], Reason: a["k8s.event.reason"],
						Message: lr.Body.StringValue, Count: count, Timestamp: time.Unix(0, ns), Attrs: a})
				}
			}
		}
	}
	return recs
}

// wait polls the exported records until cond holds, for at most d.
func (oc *otelcol) wait(t *testing.T, d time.Duration, what string, cond func([]otelRecord) bool) []otelRecord {
	t.Helper()
	var recs []otelRecord
	eventually(t, d, what, func() (bool, string) {
		select {
		case err, ok := <-oc.exited:
			if ok {
				t.Fatalf("the collector exited: %v", err)
			}
		default:
		}
		recs = oc.records(t)
		return cond(recs), fmt.Sprintf("%d records", len(recs))
	})
	return recs
}

// recordsOf keeps the records of object whose message contains substr.
func recordsOf(recs []otelRecord, object, substr string) []otelRecord {
	var out []otelRecord
	for _, r := range recs {
		if r.Object == object && strings.Contains(r.Message, substr) {
			out = append(out, r)
		}
	}
	return out
}
