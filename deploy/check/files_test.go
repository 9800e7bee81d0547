package check

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"
)

// root is the repository root, seen from this package's directory.
var root = filepath.Join("..", "..")

// repoPath returns the path of a repository file.
func repoPath(elem ...string) string { return filepath.Join(append([]string{root}, elem...)...) }

// object is one decoded manifest document.
type object struct {
	kind, name, namespace string
	obj                   runtime.Object
}

// objectKinds are the kinds the manifests may hold, by apiVersion and kind: what the
// plugin adds to a cluster, namespaced RBAC, and the optional flow control of
// deploy/flowcontrol/. Another kind is an error, so that a patch or a kustomization among
// the objects is caught, and so is an object the cluster has before the install (the
// coredns ConfigMap, the system:coredns ClusterRole), which `kubectl delete -k deploy/`
// would delete.
var objectKinds = map[string]func() runtime.Object{
	"rbac.authorization.k8s.io/v1/Role":                          func() runtime.Object { return &rbacv1.Role{} },
	"rbac.authorization.k8s.io/v1/RoleBinding":                   func() runtime.Object { return &rbacv1.RoleBinding{} },
	"flowcontrol.apiserver.k8s.io/v1/FlowSchema":                 func() runtime.Object { return &flowcontrolv1.FlowSchema{} },
	"flowcontrol.apiserver.k8s.io/v1/PriorityLevelConfiguration": func() runtime.Object { return &flowcontrolv1.PriorityLevelConfiguration{} },
}

// documents splits a multi-document YAML stream, leaving out empty documents.
func documents(data []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		var probe any
		if err := yaml.Unmarshal(doc, &probe); err != nil {
			return nil, err
		}
		if probe != nil {
			docs = append(docs, doc)
		}
	}
}

// decodeObjects decodes every document strictly (an unknown or misspelt field is an error)
// into its typed object. name is for messages.
func decodeObjects(t *testing.T, name string, data []byte) []object {
	t.Helper()
	docs, err := documents(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(docs) == 0 {
		t.Fatalf("%s: no objects", name)
	}
	var objs []object
	for i, doc := range docs {
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatalf("%s, document %d: %v", name, i+1, err)
		}
		newObj, ok := objectKinds[meta.APIVersion+"/"+meta.Kind]
		if !ok {
			t.Fatalf("%s, document %d: apiVersion %q kind %q is not an object kind this check knows "+
				"(kubectl apply -f reads every .yaml file here: patches and kustomizations belong elsewhere)",
				name, i+1, meta.APIVersion, meta.Kind)
		}
		if meta.Metadata.Name == "" {
			t.Fatalf("%s, document %d: %s without a name", name, i+1, meta.Kind)
		}
		obj := newObj()
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			t.Fatalf("%s, document %d (%s %s): %v", name, i+1, meta.Kind, meta.Metadata.Name, err)
		}
		objs = append(objs, object{kind: meta.Kind, name: meta.Metadata.Name, namespace: meta.Metadata.Namespace, obj: obj})
	}
	return objs
}

// readObjects reads and decodes a manifest of the repository.
func readObjects(t *testing.T, elem ...string) []object {
	t.Helper()
	data, err := os.ReadFile(repoPath(elem...))
	if err != nil {
		t.Fatal(err)
	}
	return decodeObjects(t, filepath.Join(elem...), data)
}

// only returns the one object of a kind among objs.
func only[T runtime.Object](t *testing.T, objs []object, kind string) T {
	t.Helper()
	var found []T
	for _, o := range objs {
		if o.kind == kind {
			found = append(found, o.obj.(T))
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d objects of kind %s, want 1", len(found), kind)
	}
	return found[0]
}

// readStrict decodes a YAML file of the repository strictly into v.
func readStrict(t *testing.T, v any, elem ...string) {
	t.Helper()
	data, err := os.ReadFile(repoPath(elem...))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, v); err != nil {
		t.Fatalf("%s: %v", filepath.Join(elem...), err)
	}
}

// deploymentPatch reads deploy/patches/deployment-env.yaml, a strategic-merge patch, as
// the partial Deployment it is.
func deploymentPatch(t *testing.T) *appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	readStrict(t, &d, "deploy", "patches", "deployment-env.yaml")
	return &d
}

// kustomization reads deploy/Kustomization as kustomize does (unknown fields are errors).
func kustomization(t *testing.T) *types.Kustomization {
	t.Helper()
	data, err := os.ReadFile(repoPath("deploy", "Kustomization"))
	if err != nil {
		t.Fatal(err)
	}
	var k types.Kustomization
	if err := k.Unmarshal(data); err != nil {
		t.Fatalf("deploy/Kustomization: %v", err)
	}
	return &k
}

// flowControlComponent reads deploy/flowcontrol/Kustomization as kustomize does: a
// Component whose resources are every object file of its directory.
func flowControlComponent(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile(repoPath("deploy", "flowcontrol", "Kustomization"))
	if err != nil {
		t.Fatal(err)
	}
	var k types.Kustomization
	if err := k.Unmarshal(data); err != nil {
		t.Fatalf("deploy/flowcontrol/Kustomization: %v", err)
	}
	if k.Kind != types.ComponentKind {
		t.Errorf("deploy/flowcontrol/Kustomization is a %s, want a %s: optional, for an overlay's components too", k.Kind, types.ComponentKind)
	}
	files, err := filepath.Glob(repoPath("deploy", "flowcontrol", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range files {
		want = append(want, filepath.Base(f))
	}
	if got := slices.Sorted(slices.Values(k.Resources)); !slices.Equal(got, want) {
		t.Errorf("deploy/flowcontrol/Kustomization's resources %q, want %q", got, want)
	}
}

// TestDeployFiles: every YAML file under deploy/ is what it is meant to be. The top level
// holds objects only, in kube-system, so that `kubectl apply -f deploy/` works; patches/
// holds Deployment patches; helm/ the chart's values and RBAC objects. A new YAML file
// fails this test until the test knows what it is.
func TestDeployFiles(t *testing.T) {
	deploy := repoPath("deploy")
	seen := map[string]bool{}
	err := filepath.WalkDir(deploy, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(deploy, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			return nil
		}
		ext := filepath.Ext(p)
		if filepath.Base(rel) != "Kustomization" && ext != ".yaml" && ext != ".yml" && ext != ".json" {
			return nil
		}
		seen[rel] = true
		t.Run(rel, func(t *testing.T) {
			switch dir := filepath.Dir(rel); {
			case rel == "Kustomization":
				kustomization(t)
			case dir == ".":
				for _, o := range readObjects(t, "deploy", rel) {
					if o.namespace != "kube-system" {
						t.Errorf("%s %s: namespace %q, want kube-system", o.kind, o.name, o.namespace)
					}
				}
			case rel == "patches/deployment-env-remove.yaml":
				envRemovePatch(t)
			case dir == "patches":
				var d appsv1.Deployment
				readStrict(t, &d, "deploy", rel)
				if d.Kind != "" || d.Name != "" {
					t.Errorf("a patch names neither kind nor object: kubectl patch does, on its command line")
				}
			case rel == "helm/values.yaml":
				helm(t)
			case rel == "helm/rbac.yaml":
				readObjects(t, "deploy", rel)
			case rel == "flowcontrol/Kustomization":
				flowControlComponent(t)
			case dir == "flowcontrol":
				for _, o := range readObjects(t, "deploy", rel) {
					if o.namespace != "" {
						t.Errorf("%s %s: namespace %q, want none: it is cluster-scoped", o.kind, o.name, o.namespace)
					}
				}
			case rel == "kubeadm/upgrade.yaml":
				kubeadmUpgrade(t)
			case strings.HasPrefix(rel, "monitoring/"):
				// Alert rules, their tests and recordings, the dashboard: module
				// deploy/monitoring/check tests them (make monitoring-check).
			default:
				t.Errorf("unknown file: say in this test what it is and check it")
			}
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Kustomization", "rbac.yaml", "patches/deployment-env.yaml", "patches/deployment-env-remove.yaml", "helm/values.yaml", "helm/rbac.yaml", "kubeadm/upgrade.yaml",
		"flowcontrol/Kustomization", "flowcontrol/flowschema.yaml", "flowcontrol/prioritylevel.yaml"} {
		if !seen[want] {
			t.Errorf("deploy/%s is missing", want)
		}
	}
}

// TestKustomizationResources: the Kustomization installs every object file at the top of
// deploy/, and those are what the plugin adds: no object the cluster already has (the
// coredns ConfigMap, the kubernetes plugin's ClusterRole), which `kubectl delete -k` would
// delete.
func TestKustomizationResources(t *testing.T) {
	k := kustomization(t)
	if k.Namespace != "kube-system" {
		t.Errorf("namespace %q, want kube-system", k.Namespace)
	}
	entries, err := os.ReadDir(repoPath("deploy"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".yaml") {
			want = append(want, e.Name())
		}
	}
	got := slices.Sorted(slices.Values(k.Resources))
	if !slices.Equal(got, want) {
		t.Errorf("resources %q, want %q", got, want)
	}
}
