package check

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/coredns/caddy/caddyfile"
	corev1 "k8s.io/api/core/v1"
)

// helmValues are the keys of the coredns chart's values.yaml that deploy/helm/values.yaml
// sets, spelt as the chart's templates read them. Decoding is strict: a key the chart
// does not have (a typo, or `extraEnv` for `env`) fails the test.
type helmValues struct {
	Image struct {
		Repository string `json:"repository"`
		Tag        string `json:"tag"`
	} `json:"image"`
	ServiceAccount struct {
		Create bool   `json:"create"`
		Name   string `json:"name"`
	} `json:"serviceAccount"`
	Env     []corev1.EnvVar `json:"env"`
	Servers []struct {
		Zones []struct {
			Zone   string `json:"zone"`
			Scheme string `json:"scheme"`
			UseTCP bool   `json:"use_tcp"`
		} `json:"zones"`
		Port    int `json:"port"`
		Plugins []struct {
			Name        string `json:"name"`
			Parameters  any    `json:"parameters"` // the chart prints it: a string or a number
			ConfigBlock string `json:"configBlock"`
		} `json:"plugins"`
	} `json:"servers"`
}

// helm reads deploy/helm/values.yaml.
func helm(t *testing.T) *helmValues {
	t.Helper()
	var v helmValues
	readStrict(t, &v, "deploy", "helm", "values.yaml")
	if v.Image.Repository == "" || v.Image.Tag == "" {
		t.Errorf("values.yaml: image %+v, want a repository and a tag (the chart's default tag is its CoreDNS version)", v.Image)
	}
	return &v
}

// corefile renders the Corefile of the chart's configmap template from the values' servers.
func (v *helmValues) corefile() string {
	var b strings.Builder
	for _, s := range v.Servers {
		var keys []string
		for _, z := range s.Zones {
			keys = append(keys, z.Scheme+cmp.Or(z.Zone, "."))
		}
		if len(keys) == 0 {
			keys = []string{"."}
		}
		b.WriteString(strings.Join(keys, " "))
		if s.Port != 0 {
			fmt.Fprintf(&b, ":%d", s.Port)
		}
		b.WriteString(" {\n")
		for _, p := range s.Plugins {
			b.WriteString("    " + p.Name)
			if p.Parameters != nil {
				fmt.Fprintf(&b, " %v", p.Parameters)
			}
			if p.ConfigBlock != "" {
				b.WriteString(" {\n        " + strings.ReplaceAll(p.ConfigBlock, "\n", "\n        ") + "\n    }")
			}
			b.WriteString("\n")
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// checkCorefile parses a Corefile and checks that every server block has kubeapi and
// k8s_event, and returns the k8s_event settings of the first (they must be the same in all).
func checkCorefile(t *testing.T, name, corefile string) string {
	t.Helper()
	blocks, err := caddyfile.Parse(name, strings.NewReader(corefile), nil)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(blocks) == 0 {
		t.Fatalf("%s: no server blocks", name)
	}
	var settings []string
	for _, b := range blocks {
		for _, dir := range []string{"kubeapi", "k8s_event"} {
			if _, ok := b.Tokens[dir]; !ok {
				t.Errorf("%s: server block %v has no %s", name, b.Keys, dir)
			}
		}
		var words []string
		for _, tok := range b.Tokens["k8s_event"] {
			words = append(words, tok.Text)
		}
		settings = append(settings, strings.Join(words, " "))
	}
	if distinct := slices.Compact(slices.Sorted(slices.Values(settings))); len(distinct) != 1 {
		t.Errorf("%s: server blocks configure k8s_event differently: %q", name, settings)
	}
	return settings[0]
}

// TestHelmCorefile: the Corefile the chart makes of the Helm values parses and has
// kubeapi and k8s_event in each server block.
func TestHelmCorefile(t *testing.T) {
	checkCorefile(t, "deploy/helm/values.yaml servers", helm(t).corefile())
}

// downwardAPI is the plugin's environment: the variables it reads and the Pod fields that
// set them.
var downwardAPI = map[string]string{
	"COREDNS_POD_NAME":  "metadata.name",
	"COREDNS_NAMESPACE": "metadata.namespace",
	"COREDNS_POD_UID":   "metadata.uid",
	"COREDNS_NODE_NAME": "spec.nodeName",
}

// checkEnv checks an env list against downwardAPI.
func checkEnv(t *testing.T, name string, env []corev1.EnvVar) {
	t.Helper()
	got := map[string]string{}
	for _, e := range env {
		if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.FieldRef == nil {
			t.Errorf("%s: %s is not set from a Pod field", name, e.Name)
			continue
		}
		got[e.Name] = e.ValueFrom.FieldRef.FieldPath
	}
	if fmt.Sprint(got) != fmt.Sprint(downwardAPI) || len(env) != len(downwardAPI) {
		t.Errorf("%s: env %v, want %v", name, got, downwardAPI)
	}
}

// TestDownwardAPI: the Deployment patch and the Helm values give the plugin its Pod's
// identity, the same way, in the container named coredns (kubeadm's and the chart's).
func TestDownwardAPI(t *testing.T) {
	d := deploymentPatch(t)
	containers := d.Spec.Template.Spec.Containers
	if len(containers) != 1 || containers[0].Name != "coredns" {
		t.Fatalf("deploy/patches/deployment-env.yaml patches containers %+v, want the one named coredns", containers)
	}
	checkEnv(t, "deploy/patches/deployment-env.yaml", containers[0].Env)
	checkEnv(t, "deploy/helm/values.yaml", helm(t).Env)
}
