//go:build chart

package check

import (
	"maps"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// The chart test renders the coredns Helm chart, at the version the README pins, with
// deploy/helm/values.yaml, as `helm install` would (Helm's own loader and template
// engine), and checks what the plugin needs in what it renders. The chart is not in this
// repository: K8S_EVENT_COREDNS_CHART names its directory or .tgz (`helm pull
// coredns/coredns --version VERSION`), and `make helm-check` passes it.

// release is the release the README's helm command installs.
var release = chartutil.ReleaseOptions{Name: "coredns", Namespace: "kube-system", Revision: 1, IsInstall: true}

// renderChart renders the chart with deploy/helm/values.yaml and returns the rendered
// manifests by template name.
func renderChart(t *testing.T) map[string]string {
	t.Helper()
	path := os.Getenv("K8S_EVENT_COREDNS_CHART")
	if path == "" {
		t.Fatal("K8S_EVENT_COREDNS_CHART is not set: give it the coredns chart's directory or .tgz, at the version the README pins " +
			"(helm pull coredns/coredns --version " + readmeChartVersion(t) + ")")
	}
	ch, err := loader.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := readmeChartVersion(t); ch.Metadata.Name != "coredns" || ch.Metadata.Version != want {
		t.Fatalf("%s is chart %s %s, want coredns %s, the version the README pins", path, ch.Metadata.Name, ch.Metadata.Version, want)
	}
	vals, err := chartutil.ReadValuesFile(repoPath("deploy", "helm", "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	top, err := chartutil.ToRenderValues(ch, vals, release, chartutil.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	out, err := engine.Render(ch, top)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// readmeChartVersion is the chart version of the README's helm command (--version).
func readmeChartVersion(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*helm upgrade --install .* coredns/coredns .*--version (\S+)`).FindStringSubmatch(readText(t, "README.md"))
	if m == nil {
		t.Fatal("README.md: no `helm upgrade --install ... coredns/coredns ... --version VERSION` command")
	}
	return m[1]
}

// renderedObjects decodes the rendered manifests of the kinds the test reads, by
// "Kind/name".
func renderedObjects(t *testing.T, manifests map[string]string) map[string][]byte {
	t.Helper()
	objs := map[string][]byte{}
	names := make([]string, 0, len(manifests))
	for name := range manifests {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !strings.HasSuffix(name, ".yaml") {
			continue // NOTES.txt, helpers
		}
		docs, err := documents([]byte(manifests[name]))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, d := range docs {
			var meta struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal(d, &meta); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			objs[meta.Kind+"/"+meta.Metadata.Name] = d
		}
	}
	return objs
}

// decode decodes the rendered object key into v, failing t if it was not rendered.
func decode(t *testing.T, objs map[string][]byte, key string, v any) {
	t.Helper()
	d, ok := objs[key]
	if !ok {
		t.Fatalf("the chart renders no %s; it renders %q", key, slices.Sorted(maps.Keys(objs)))
	}
	if err := yaml.Unmarshal(d, v); err != nil {
		t.Fatalf("%s: %v", key, err)
	}
}

// TestChart: the chart, rendered with deploy/helm/values.yaml, makes a Corefile with
// kubeapi and k8s_event in every server block, a Deployment whose coredns container has
// the Downward API environment and runs as the ServiceAccount the chart creates, that
// ServiceAccount, and deploy/helm/rbac.yaml binds the plugin's Role to it, in the release
// namespace; the chart's own ClusterRole does not grant the plugin's rights, which is why
// rbac.yaml exists.
func TestChart(t *testing.T) {
	objs := renderedObjects(t, renderChart(t))
	fullname := release.Name // the chart's fullname when the release is named after the chart

	var cm corev1.ConfigMap
	decode(t, objs, "ConfigMap/"+fullname, &cm)
	checkCorefile(t, "the chart's Corefile", cm.Data["Corefile"])

	var d appsv1.Deployment
	decode(t, objs, "Deployment/"+fullname, &d)
	var c *corev1.Container
	for i := range d.Spec.Template.Spec.Containers {
		if d.Spec.Template.Spec.Containers[i].Name == "coredns" {
			c = &d.Spec.Template.Spec.Containers[i]
		}
	}
	if c == nil {
		t.Fatalf("the chart's Deployment has no container coredns: %+v", d.Spec.Template.Spec.Containers)
	}
	checkEnv(t, "the chart's coredns container", c.Env)
	v := helm(t)
	if want := v.Image.Repository + ":" + v.Image.Tag; c.Image != want {
		t.Errorf("the chart's coredns container runs %q, want values.yaml's %q", c.Image, want)
	}

	sa := d.Spec.Template.Spec.ServiceAccountName
	var account corev1.ServiceAccount
	decode(t, objs, "ServiceAccount/"+sa, &account)
	if account.Namespace != release.Namespace {
		t.Errorf("the chart's ServiceAccount %s is in %q, want the release namespace %q", sa, account.Namespace, release.Namespace)
	}
	checkRBAC(t, readObjects(t, "deploy", "helm", "rbac.yaml"), release.Namespace, sa)

	var role rbacv1.ClusterRole
	decode(t, objs, "ClusterRole/"+fullname, &role)
	for _, p := range permissions(t, role.Rules) {
		if slices.Contains(leastPrivilege, p) && strings.HasPrefix(p, "/events:") {
			t.Errorf("the chart's ClusterRole grants %s: deploy/helm/rbac.yaml would not be needed for it", p)
		}
	}
	t.Logf("rendered %s", strings.Join(slices.Sorted(maps.Keys(objs)), ", "))
}
