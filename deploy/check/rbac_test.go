package check

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// leastPrivilege is every permission the plugin uses, as "group/resource:verb": it
// creates core/v1 Events and patches their count (client-go's recorder, which never
// updates), and lists the Pods of its namespace to find its own UID. The end-to-end tests
// prove it against a real API server; this keeps the files from drifting from it.
var leastPrivilege = []string{
	"/events:create",
	"/events:patch",
	"/pods:list",
}

// permissions flattens RBAC rules to sorted "group/resource:verb" strings. Rules that name
// resources or URLs, or use wildcards, are reported as errors: the plugin needs none.
func permissions(t *testing.T, rules []rbacv1.PolicyRule) []string {
	t.Helper()
	var perms []string
	for _, r := range rules {
		if len(r.ResourceNames) > 0 || len(r.NonResourceURLs) > 0 {
			t.Errorf("rule %+v: resourceNames and nonResourceURLs are not used", r)
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					if g == "*" || res == "*" || v == "*" {
						t.Errorf("rule %+v: wildcard", r)
					}
					perms = append(perms, fmt.Sprintf("%s/%s:%s", g, res, v))
				}
			}
		}
	}
	slices.Sort(perms)
	return slices.Compact(perms)
}

// checkRBAC checks a Role and RoleBinding pair: the Role grants exactly leastPrivilege, the
// binding binds it to ServiceAccount namespace/sa.
func checkRBAC(t *testing.T, objs []object, namespace, sa string) {
	t.Helper()
	role := only[*rbacv1.Role](t, objs, "Role")
	binding := only[*rbacv1.RoleBinding](t, objs, "RoleBinding")
	if got := permissions(t, role.Rules); !slices.Equal(got, leastPrivilege) {
		t.Errorf("Role %s grants %q, want exactly %q", role.Name, got, leastPrivilege)
	}
	if role.Namespace != namespace || binding.Namespace != namespace {
		t.Errorf("Role in %q, RoleBinding in %q, want both in %q", role.Namespace, binding.Namespace, namespace)
	}
	wantRef := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name}
	if binding.RoleRef != wantRef {
		t.Errorf("RoleBinding %s refers to %+v, want %+v", binding.Name, binding.RoleRef, wantRef)
	}
	wantSubjects := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: namespace}}
	if !slices.Equal(binding.Subjects, wantSubjects) {
		t.Errorf("RoleBinding %s binds %+v, want %+v", binding.Name, binding.Subjects, wantSubjects)
	}
}

// TestRBAC: deploy/rbac.yaml grants exactly what the plugin uses, to the coredns
// ServiceAccount of kube-system (kubeadm's).
func TestRBAC(t *testing.T) {
	checkRBAC(t, readObjects(t, "deploy", "rbac.yaml"), "kube-system", "coredns")
}

// TestHelmRBAC: the Helm RBAC has deploy/rbac.yaml's rules, bound to the ServiceAccount
// that values.yaml makes the chart create.
func TestHelmRBAC(t *testing.T) {
	v := helm(t)
	if !v.ServiceAccount.Create || v.ServiceAccount.Name == "" {
		t.Errorf("values.yaml: serviceAccount %+v, want create: true and a name "+
			"(the chart's default is the namespace's `default` ServiceAccount)", v.ServiceAccount)
	}
	objs := readObjects(t, "deploy", "helm", "rbac.yaml")
	checkRBAC(t, objs, "kube-system", v.ServiceAccount.Name)
	deploy := only[*rbacv1.Role](t, readObjects(t, "deploy", "rbac.yaml"), "Role")
	helm := only[*rbacv1.Role](t, objs, "Role")
	if !slices.EqualFunc(helm.Rules, deploy.Rules, func(a, b rbacv1.PolicyRule) bool {
		return slices.Equal(a.APIGroups, b.APIGroups) && slices.Equal(a.Resources, b.Resources) && slices.Equal(a.Verbs, b.Verbs)
	}) {
		t.Errorf("deploy/helm/rbac.yaml's rules %+v differ from deploy/rbac.yaml's %+v", helm.Rules, deploy.Rules)
	}
}

// kustomize renders the kustomization in dir of fs, as kubectl apply -k does.
func kustomize(t *testing.T, fs filesys.FileSystem, dir string) []object {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, dir)
	if err != nil {
		t.Fatalf("kustomize %s: %v", dir, err)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	return decodeObjects(t, "kustomize "+dir, out)
}

// TestKustomize: `kubectl apply -k deploy/` applies the Role and the RoleBinding, in
// kube-system, with the least-privilege rules, and nothing else: `kubectl delete -k
// deploy/` deletes what it lists, so an object the cluster had before (the coredns
// ConfigMap) must never be among them.
func TestKustomize(t *testing.T) {
	objs := kustomize(t, filesys.MakeFsOnDisk(), repoPath("deploy"))
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.kind+" "+o.namespace+"/"+o.name)
	}
	want := []string{
		"Role kube-system/coredns-k8s-event",
		"RoleBinding kube-system/coredns-k8s-event",
	}
	if !slices.Equal(kinds, want) {
		t.Errorf("renders %q, want %q", kinds, want)
	}
	checkRBAC(t, objs, "kube-system", "coredns")
}

// TestKustomizeServiceAccount: the ServiceAccount is one setting of the Kustomization, the
// patch's `value: coredns`: changing it changes the subject the Role is bound to.
func TestKustomizeServiceAccount(t *testing.T) {
	k, err := os.ReadFile(repoPath("deploy", "Kustomization"))
	if err != nil {
		t.Fatal(err)
	}
	const setting = "value: coredns"
	if n := bytes.Count(k, []byte(setting)); n != 1 {
		t.Fatalf("deploy/Kustomization has %q %d times, want once", setting, n)
	}
	fs := filesys.MakeFsInMemory()
	for _, name := range append(kustomization(t).Resources, "Kustomization") {
		data, err := os.ReadFile(repoPath("deploy", name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "Kustomization" {
			data = bytes.Replace(data, []byte(setting), []byte("value: dns"), 1)
		}
		if err := fs.WriteFile("/deploy/"+name, data); err != nil {
			t.Fatal(err)
		}
	}
	checkRBAC(t, kustomize(t, fs, "/deploy"), "kube-system", "dns")
}
