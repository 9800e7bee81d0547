package check

import (
	"bytes"
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// TestMonitoringDashboardConfigMap: `kubectl apply -k deploy/monitoring` applies one
// ConfigMap, labelled for Grafana's dashboard sidecar (grafana_dashboard: "1", the label
// and value kube-prometheus-stack's sidecar looks for), without a namespace of its own
// (the command line's applies), holding dashboard.json byte for byte under a .json key,
// and nothing else.
func TestMonitoringDashboardConfigMap(t *testing.T) {
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), repoPath("deploy", "monitoring"))
	if err != nil {
		t.Fatalf("kustomize deploy/monitoring: %v", err)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	docs, err := documents(out)
	if err != nil || len(docs) != 1 {
		t.Fatalf("kustomize deploy/monitoring: %d objects (%v), want one ConfigMap:\n%s", len(docs), err, out)
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(docs[0], &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Kind != "ConfigMap" || cm.APIVersion != "v1" || cm.Name == "" {
		t.Errorf("%s %s %q, want a named v1 ConfigMap", cm.APIVersion, cm.Kind, cm.Name)
	}
	if cm.Namespace != "" {
		t.Errorf("namespace %q, want none: kubectl apply -k -n NAMESPACE places it", cm.Namespace)
	}
	if got := cm.Labels["grafana_dashboard"]; got != "1" {
		t.Errorf("label grafana_dashboard %q, want \"1\" (labels %v)", got, cm.Labels)
	}
	want, err := os.ReadFile(repoPath("deploy", "monitoring", "dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cm.Data) != 1 || len(cm.BinaryData) != 0 {
		t.Fatalf("data keys %d, binary %d, want dashboard.json alone", len(cm.Data), len(cm.BinaryData))
	}
	for k, v := range cm.Data {
		if !bytes.HasSuffix([]byte(k), []byte(".json")) || v != string(want) {
			t.Errorf("data %q (%d bytes), want a .json key holding dashboard.json (%d bytes)", k, len(v), len(want))
		}
	}
}
