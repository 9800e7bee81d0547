package e2e

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The install tests run the README's Install and Uninstall commands as they are written,
// but for the image, on a control plane of their own on which kubeadm made CoreDNS, with
// kubeadm's own addon step (kubeadm.go). CoreDNS then runs with a token of kubeadm's
// coredns ServiceAccount and nothing but what kubeadm and deploy/ grant it.

// The values the tests give the README's REPOSITORY and RELEASE.
const (
	installRepository = "k8s-event-e2e/coredns"
	installVersion    = "v0.1.0"
)

// installedCluster is a cluster on which deploy/ was installed, and the installed
// Deployment.
type installedCluster struct {
	*cluster
	deployment *appsv1.Deployment
	image      string // the image the install set
}

// installDeploy starts a control plane of the test's own, makes CoreDNS there with
// kubeadm, runs the README's Install commands as the admin and gets a token of the
// ServiceAccount.
func installDeploy(t *testing.T) *installedCluster {
	t.Helper()
	kc := startKubeadmCluster(t, kubeadmConfig(t, "cluster.local"))
	kc.install(t)
	var kubeconfig string
	setUp(t, "a token of the coredns ServiceAccount", func(ctx context.Context) (err error) {
		kubeconfig, err = kc.cp.ServiceAccountKubeconfig(ctx, devenv.CoreDNSNamespace, "coredns")
		return err
	})
	return &installedCluster{&cluster{cp: kc.cp, kubeconfig: kubeconfig}, kc.deployment(t), kc.image}
}

// createPod creates a Pod as the Deployment's ReplicaSet would, scheduled on nodeName (a
// name only: there is no node, nor kubelet to mount a token, so none is mounted).
func (ic *installedCluster) createPod(t *testing.T, name string) *corev1.Pod {
	t.Helper()
	tmpl := ic.deployment.Spec.Template.DeepCopy()
	pod := &corev1.Pod{ObjectMeta: tmpl.ObjectMeta, Spec: tmpl.Spec}
	pod.Name, pod.Namespace = name, devenv.CoreDNSNamespace
	pod.Spec.NodeName = nodeName
	pod.Spec.AutomountServiceAccountToken = new(false)
	created, err := ic.cp.AdminClient().CoreV1().Pods(devenv.CoreDNSNamespace).Create(setUpContext(t), pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return created
}

// downwardEnv is the environment the kubelet would give the Pod's coredns container:
// literal values, and the Downward API fields, resolved from the Pod. Variables named in
// leave out are left out.
func downwardEnv(t *testing.T, pod *corev1.Pod, leaveOut ...string) []string {
	t.Helper()
	var env []string
	for _, e := range pod.Spec.Containers[0].Env {
		if slices.Contains(leaveOut, e.Name) {
			continue
		}
		if e.ValueFrom == nil {
			env = append(env, e.Name+"="+e.Value)
			continue
		}
		var v string
		switch f := e.ValueFrom.FieldRef; {
		case f == nil:
			t.Fatalf("env %s: only fieldRef is resolved here", e.Name)
		case f.FieldPath == "metadata.name":
			v = pod.Name
		case f.FieldPath == "metadata.namespace":
			v = pod.Namespace
		case f.FieldPath == "metadata.uid":
			v = string(pod.UID)
		case f.FieldPath == "spec.nodeName":
			v = pod.Spec.NodeName
		default:
			t.Fatalf("env %s: field %s is not resolved here", e.Name, f.FieldPath)
		}
		env = append(env, e.Name+"="+v)
	}
	return env
}

// TestInstall: on kubeadm's CoreDNS, the README's Install commands set the image and add
// the four Downward API variables to the Deployment; `kubectl apply -f deploy/` takes the
// directory too, and applies only the RBAC. CoreDNS with a token of the ServiceAccount,
// granted only kubeadm's ClusterRole and deploy/'s Role, and without COREDNS_POD_UID (so
// that it looks its Pod up) reports an error line as an event on the Pod, with the Pod's
// UID and the node as source host.
func TestInstall(t *testing.T) {
	t.Parallel()
	ic := installDeploy(t)

	c0 := ic.deployment.Spec.Template.Spec.Containers[0]
	if c0.Image != ic.image || !hasDownwardEnv(c0.Env) {
		t.Errorf("installed Deployment: image %q, want %q; env %v, want the Downward API variables", c0.Image, ic.image, envNames(c0.Env))
	}

	out := ic.kubectl(t, "apply", "-f", filepath.Join(suite.paths.Root, "deploy"), "--dry-run=server")
	want := []string{"role.rbac.authorization.k8s.io/coredns-k8s-event", "rolebinding.rbac.authorization.k8s.io/coredns-k8s-event"}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		obj, _, _ := strings.Cut(l, " ")
		got = append(got, obj)
	}
	if !slices.Equal(got, want) {
		t.Errorf("kubectl apply -f deploy/ --dry-run=server applies %q, want only %q:\n%s", got, want, out)
	}

	pod := ic.createPod(t, "coredns-install-1")
	c, addr := startFailingUpstream(t, ic.cluster, downwardEnv(t, pod, "COREDNS_POD_UID"), k8sEventDirective())
	ev := ic.eventWithUID(t, pod, addr, 30*time.Second)
	checkEvent(t, ev, pod, reasonError)
	if n := countLines(c.Lines(), "plugin/k8s_event: ", "could not look up"); n > 0 {
		t.Errorf("the UID lookup failed %d times:\n%s", n, c.Tail(20))
	}

	// The README's and docs/operations.md's selections of the plugin's events.
	for _, selector := range []string{"source=CoreDNS/errors", "reportingComponent=CoreDNS"} {
		evs, err := ic.cp.AdminClient().CoreV1().Events(pod.Namespace).List(timeout(t, 10*time.Second), metav1.ListOptions{FieldSelector: selector})
		if err != nil || !slices.ContainsFunc(evs.Items, func(e corev1.Event) bool { return e.Name == ev.Name }) {
			t.Errorf("--field-selector %s does not select the event %s (%v)", selector, ev.Name, err)
		}
	}
}

// verbQueries is how many failing queries, each with a name of its own, a CoreDNS of
// TestVerbsGrantedAreVerbsUsed answers: after the first, more than client-go's recorder
// writes as events of their own (10) before it combines similar ones into one event,
// which it then patches.
const verbQueries = 15

// TestVerbsGrantedAreVerbsUsed: what deploy/ grants CoreDNS's ServiceAccount is exactly
// what CoreDNS does with it, as the audit log records it, no request refused. Without
// COREDNS_POD_UID: create and patch events, list pods. With it (a second Pod, run once
// the first CoreDNS stopped): the same but list pods.
func TestVerbsGrantedAreVerbsUsed(t *testing.T) {
	t.Parallel()
	ic := installDeploy(t)
	granted := ic.grantedVerbs(t)
	if !granted["list pods"] {
		t.Fatalf("deploy/ does not grant list pods: %v", slices.Sorted(maps.Keys(granted)))
	}
	withUID := maps.Clone(granted)
	delete(withUID, "list pods")

	since := time.Now()
	for i, tc := range []struct {
		name     string
		leaveOut []string
		want     map[string]bool
	}{
		{"without COREDNS_POD_UID", []string{"COREDNS_POD_UID"}, granted},
		{"with COREDNS_POD_UID", nil, withUID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := ic.createPod(t, fmt.Sprintf("coredns-verbs-%d", i+1))
			c, addr := startFailingUpstream(t, ic.cluster, downwardEnv(t, pod, tc.leaveOut...), k8sEventDirective())
			// Not fatal: a refused write leaves fewer events, and the audit log tells why.
			waitCount := func(n int) {
				if _, err := devenv.WaitEvents(timeout(t, eventTimeout), ic.cp.AdminClient(), pod.Namespace, pod.Name,
					fmt.Sprintf("events counting %d lines", n),
					func(evs []corev1.Event) bool { return totalCount(evs) >= n }); err != nil {
					t.Error(err)
				}
			}
			// The first event is written after the UID lookup's first try, so the lines
			// after it are all recorded with the same involved object, and aggregate:
			// client-go's correlator keys on the UID too.
			failQuery(t, addr, fmt.Sprintf("verbs-%d-0.example.org.", i+1))
			waitCount(1)
			for q := 1; q < verbQueries; q++ {
				failQuery(t, addr, fmt.Sprintf("verbs-%d-%d.example.org.", i+1, q))
			}
			waitCount(verbQueries)
			if err := c.Stop(); err != nil {
				t.Fatal(err)
			}
			until := time.Now()
			// The API server may write an entry just after its answer: reread the log until
			// it holds every verb wanted, or for 10 s, then compare.
			used, refused := ic.usedVerbs(t, since, until)
			for deadline := time.Now().Add(10 * time.Second); !containsKeys(used, tc.want) && time.Now().Before(deadline); {
				time.Sleep(100 * time.Millisecond)
				used, refused = ic.usedVerbs(t, since, until)
			}
			since = until
			t.Logf("CoreDNS used %v", slices.Sorted(maps.Keys(used)))
			if !maps.Equal(used, tc.want) || len(refused) > 0 {
				t.Errorf("CoreDNS used %v, refused: %v; want exactly %v", slices.Sorted(maps.Keys(used)), refused, slices.Sorted(maps.Keys(tc.want)))
			}
		})
	}
}

// containsKeys reports whether every key of sub is in m.
func containsKeys(m, sub map[string]bool) bool {
	for k := range sub {
		if !m[k] {
			return false
		}
	}
	return true
}

// verb is how a request or a rule is compared: "VERB RESOURCE[/SUBRESOURCE][.GROUP]", or
// "VERB PATH" for a request that is not on a resource.
func verb(v, group, resource string) string {
	if group != "" {
		resource += "." + group
	}
	return v + " " + resource
}

// grantedVerbs reads from the API server the rules deploy/ binds to ServiceAccount
// kube-system/coredns: those of every RoleBinding in kube-system that has it as a subject.
// kubeadm's ClusterRole for the kubernetes plugin, bound cluster-wide, is the cluster's,
// not the plugin's. A wildcard fails the test.
func (ic *installedCluster) grantedVerbs(t *testing.T) map[string]bool {
	t.Helper()
	ctx, rbac := timeout(t, 30*time.Second), ic.cp.AdminClient().RbacV1()
	isCoreDNS := func(subjects []rbacv1.Subject) bool {
		return slices.ContainsFunc(subjects, func(s rbacv1.Subject) bool {
			return s.Kind == rbacv1.ServiceAccountKind && s.Namespace == devenv.CoreDNSNamespace && s.Name == "coredns"
		})
	}
	rbs, err := rbac.RoleBindings(devenv.CoreDNSNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var rules []rbacv1.PolicyRule
	for _, b := range rbs.Items {
		if !isCoreDNS(b.Subjects) {
			continue
		}
		if b.RoleRef.Kind != "Role" {
			t.Fatalf("RoleBinding %s binds %s %s: deploy/ binds a Role of its own", b.Name, b.RoleRef.Kind, b.RoleRef.Name)
		}
		r, err := rbac.Roles(devenv.CoreDNSNamespace).Get(ctx, b.RoleRef.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, r.Rules...)
	}
	granted := map[string]bool{}
	for _, r := range rules {
		if len(r.NonResourceURLs) > 0 || slices.Contains(r.Verbs, "*") || slices.Contains(r.Resources, "*") || slices.Contains(r.APIGroups, "*") {
			t.Fatalf("a rule bound to the coredns ServiceAccount is not a list of resources and verbs: %+v", r)
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					granted[verb(v, g, res)] = true
				}
			}
		}
	}
	return granted
}

// usedVerbs reads the audit log for the requests of ServiceAccount kube-system/coredns
// received in [since, until): the verbs used, and the requests refused.
func (ic *installedCluster) usedVerbs(t *testing.T, since, until time.Time) (used map[string]bool, refused []string) {
	t.Helper()
	evs, err := ic.cp.AuditEvents()
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	used = map[string]bool{}
	for _, e := range evs {
		if e.User.Username != corednsUser || e.Received.Before(since) || !e.Received.Before(until) {
			continue
		}
		o, v := e.ObjectRef, ""
		switch {
		case o.Resource == "":
			v = e.Verb + " " + e.RequestURI
		case o.Subresource != "":
			v = verb(e.Verb, o.APIGroup, o.Resource+"/"+o.Subresource)
		default:
			v = verb(e.Verb, o.APIGroup, o.Resource)
		}
		used[v] = true
		if e.ResponseStatus.Code < 200 || e.ResponseStatus.Code > 299 {
			refused = append(refused, fmt.Sprintf("%s %s: %d", e.Verb, e.RequestURI, e.ResponseStatus.Code))
		}
	}
	return used, refused
}
