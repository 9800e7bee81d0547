package check

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"
)

// envRemovePatch reads deploy/patches/deployment-env-remove.yaml and checks that it
// deletes, by name, exactly the env entries deployment-env.yaml adds, in the coredns
// container.
func envRemovePatch(t *testing.T) []byte {
	t.Helper()
	var p struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Name string `json:"name"`
						Env  []struct {
							Name  string `json:"name"`
							Patch string `json:"$patch"`
						} `json:"env"`
					} `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	readStrict(t, &p, "deploy", "patches", "deployment-env-remove.yaml")
	cs := p.Spec.Template.Spec.Containers
	if len(cs) != 1 || cs[0].Name != "coredns" {
		t.Fatalf("deployment-env-remove.yaml patches containers %+v, want the one named coredns", cs)
	}
	var deleted []string
	for _, e := range cs[0].Env {
		if e.Patch != "delete" {
			t.Errorf("deployment-env-remove.yaml: env %s has $patch %q, want delete", e.Name, e.Patch)
		}
		deleted = append(deleted, e.Name)
	}
	if want := slices.Sorted(maps.Keys(downwardAPI)); !slices.Equal(slices.Sorted(slices.Values(deleted)), want) {
		t.Errorf("deployment-env-remove.yaml deletes %q, want %q", deleted, want)
	}
	data, err := yaml.YAMLToJSON([]byte(readText(t, "deploy", "patches", "deployment-env-remove.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestEnvPatchesUndo: deployment-env-remove.yaml undoes deployment-env.yaml, as kubectl
// patch applies them (strategic merge): a Deployment with env entries of its own, or with
// none, is back as it was, and its own entries are kept in between.
func TestEnvPatchesUndo(t *testing.T) {
	add, err := yaml.YAMLToJSON([]byte(readText(t, "deploy", "patches", "deployment-env.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	remove := envRemovePatch(t)
	own := corev1.EnvVar{Name: "GODEBUG", Value: "netdns=go"}
	for _, tc := range []struct {
		name string
		env  []corev1.EnvVar
	}{
		{"no env", nil},
		{"an env of its own", []corev1.EnvVar{own}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := appsv1.Deployment{}
			d.Spec.Template.Spec.Containers = []corev1.Container{
				{Name: "coredns", Image: "coredns:1", Args: []string{"-conf", "/etc/coredns/Corefile"}, Env: tc.env},
				{Name: "sidecar", Image: "sidecar:1"},
			}
			before, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			patched, err := strategicpatch.StrategicMergePatch(before, add, appsv1.Deployment{})
			if err != nil {
				t.Fatal(err)
			}
			var mid appsv1.Deployment
			if err := json.Unmarshal(patched, &mid); err != nil {
				t.Fatal(err)
			}
			checkEnv(t, "patched", slices.DeleteFunc(slices.Clone(mid.Spec.Template.Spec.Containers[0].Env), func(e corev1.EnvVar) bool { return e == own }))
			if tc.env != nil && !slices.Contains(mid.Spec.Template.Spec.Containers[0].Env, own) {
				t.Errorf("the patch dropped the container's own env entry: %v", mid.Spec.Template.Spec.Containers[0].Env)
			}
			after, err := strategicpatch.StrategicMergePatch(patched, remove, appsv1.Deployment{})
			if err != nil {
				t.Fatal(err)
			}
			var got appsv1.Deployment
			if err := json.Unmarshal(after, &got); err != nil {
				t.Fatal(err)
			}
			if g, w := mustJSON(t, got), mustJSON(t, d); g != w {
				t.Errorf("after both patches:\n%s\nwant the Deployment as it was:\n%s", g, w)
			}
		})
	}
}

// mustJSON is v as JSON.
func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
