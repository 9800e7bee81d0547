package node

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestKubeadmPatchesDoNotKeepThePlugin runs kubeadm's CoreDNS addon step, as `kubeadm
// upgrade apply` runs it, on the installed plugin with kubeadm's own way of changing the
// Deployment it makes: a patches directory whose corednsdeployment patches set the
// plugin's image and the install's environment (deploy/patches/deployment-env.yaml). The
// step still reads the running CoreDNS version from the image's tag before it writes
// anything, and the release's tag is none it can migrate from: it fails on the tag,
// whatever the patches say, and changes nothing; CoreDNS keeps serving. So --patches is
// not a way to let kubeadm's upgrade keep the plugin (docs/operations.md, "kubeadm's
// CoreDNS addon step"), and the upgrade skips the step instead.
func TestKubeadmPatchesDoNotKeepThePlugin(t *testing.T) {
	setUp(t)
	readyPods(t)
	ctx := timeout(t, 2*time.Minute)
	env, err := os.ReadFile(suite.paths.Deploy("patches/deployment-env.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	patches := map[string]string{
		"corednsdeployment0+strategic.yaml": string(env),
		"corednsdeployment1+strategic.yaml": fmt.Sprintf("spec:\n  template:\n    spec:\n      containers:\n      - name: coredns\n        image: %s\n", suite.images.CoreDNS.Name),
	}
	cm, err := suite.client.CoreV1().ConfigMaps(namespace).Get(ctx, "coredns", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := suite.client.AppsV1().Deployments(namespace).Get(ctx, deployment, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	out, err := suite.node.KubeadmAddon(ctx, suite.images.Stock.Name, patches)
	t.Logf("kubeadm's addon step with the patches printed:\n%s", out)
	tag := suite.images.CoreDNS.Name[strings.LastIndexByte(suite.images.CoreDNS.Name, ':')+1:]
	loud := "start version '" + strings.TrimPrefix(tag, "v") + "' not supported"
	if err == nil || !strings.Contains(err.Error(), loud) {
		t.Errorf("kubeadm's addon step with patches for the plugin's image and env, on CoreDNS running %s: %v\nwant it to fail: %s",
			suite.images.CoreDNS.Name, err, loud)
	}

	if got, err := suite.client.CoreV1().ConfigMaps(namespace).Get(ctx, "coredns", metav1.GetOptions{}); err != nil {
		t.Error(err)
	} else if got.ResourceVersion != cm.ResourceVersion {
		t.Errorf("the addon step changed the ConfigMap:\n%s", got.Data["Corefile"])
	}
	if got, err := suite.client.AppsV1().Deployments(namespace).Get(ctx, deployment, metav1.GetOptions{}); err != nil {
		t.Error(err)
	} else if got.ResourceVersion != d.ResourceVersion {
		t.Errorf("the addon step changed the Deployment: image %s, env %v", got.Spec.Template.Spec.Containers[0].Image, got.Spec.Template.Spec.Containers[0].Env)
	}
	for _, p := range readyPods(t) {
		if c := p.Spec.Containers[0]; c.Image != suite.images.CoreDNS.Name {
			t.Errorf("Pod %s runs %s, want the plugin's %s", p.Name, c.Image, suite.images.CoreDNS.Name)
		}
	}
}
