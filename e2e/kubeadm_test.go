package e2e

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/coredns/k8s_event/internal/devenv"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The kubeadm tests run kubeadm itself (BinDir's, at the harness's Kubernetes version)
// against a cluster on which the plugin is installed: what its CoreDNS addon step, which
// `kubeadm upgrade apply` runs, does to the plugin, and what its upgrade preflight says.

// imageTag is the tag of an image reference.
func imageTag(image string) string { return image[strings.LastIndexByte(image, ':')+1:] }

// TestKubeadmStopsOnReleaseTags: with the plugin installed by the README (an image
// tagged by the release's tag function, tools/image tag, on kubeadm's CoreDNS version),
// kubeadm's CoreDNS addon step fails on the tag, saying that it cannot migrate from that
// version, and changes nothing; its upgrade preflight stops on it too. The plugin
// versions are ones a bare vX.Y.Z tag would have made CoreDNS versions kubeadm knows
// (v1.2.0), or its own (v1.14.6, which no check would have stopped on).
func TestKubeadmStopsOnReleaseTags(t *testing.T) {
	t.Parallel()
	for _, plugin := range []string{"v1.2.0", "v1.14.6"} {
		t.Run(plugin, func(t *testing.T) {
			t.Parallel()
			kc := startKubeadmCluster(t, kubeadmConfig(t, "cluster.local"))
			kc.version = plugin
			kc.install(t)
			tag := imageTag(kc.image)
			cm, d := kc.configMap(t), kc.deployment(t)
			loud := "start version '" + strings.TrimPrefix(tag, "v") + "' not supported"

			out, err := suite.paths.KubeadmCoreDNS(setUpContext(t), kc.cp.AdminKubeconfig(), kc.dir, kc.cfg)
			if err == nil || !strings.Contains(err.Error(), loud) {
				t.Errorf("kubeadm's addon step on the plugin's image %s: %v\n%s\nwant it to fail: %s", kc.image, err, out, loud)
			}
			if got := kc.configMap(t); got.ResourceVersion != cm.ResourceVersion {
				t.Errorf("the failed addon step changed the ConfigMap:\n%s", got.Data["Corefile"])
			}
			if got := kc.deployment(t); got.ResourceVersion != d.ResourceVersion {
				t.Errorf("the failed addon step changed the Deployment: %s", specJSON(t, got))
			}

			out, err = kc.plan(t, "kubeadm upgrade plan")
			for _, check := range []string{"CoreDNSUnsupportedPlugins", "CoreDNSMigration"} {
				if err == nil || !strings.Contains(out, "[ERROR "+check+"]") || !strings.Contains(out, loud) {
					t.Errorf("kubeadm upgrade plan on %s: want [ERROR %s] with %s; it printed:\n%s", kc.image, check, loud, out)
				}
			}
		})
	}
}

// TestKubeadmAddonStepRevertsADigestOnlyImage: an image given by its digest alone has no
// tag, which kubeadm's addon step takes for no CoreDNS at all: it puts its own Deployment
// back, without an error. This is why the README says to keep the tag.
func TestKubeadmAddonStepRevertsADigestOnlyImage(t *testing.T) {
	t.Parallel()
	kc := startKubeadmCluster(t, kubeadmConfig(t, "cluster.local"))
	kubeadmImage := kc.deployment(t).Spec.Template.Spec.Containers[0].Image
	kc.install(t)
	kc.setImage(t, installRepository+"@sha256:"+strings.Repeat("ab", 32))
	kc.kubeadmAddon(t, kc.cfg)
	if c0 := kc.deployment(t).Spec.Template.Spec.Containers[0]; c0.Image != kubeadmImage {
		t.Errorf("after kubeadm's addon step on %s the Deployment runs %q; want kubeadm's %q put back", kc.image, c0.Image, kubeadmImage)
	}
}

// TestKubeadmAddonStepRevertsTheDeployment: with the plugin installed from an image
// tagged with kubeadm's own CoreDNS version, kubeadm's addon step keeps the Corefile, byte
// for byte, with the plugin's lines, but puts its own Deployment back: its image, whose
// CoreDNS refuses the k8s_event line, and no Downward API environment. With
// dns.imageRepository and dns.imageTag naming the plugin's image, the image stays, but
// the environment is still gone; with the install's env patch as a corednsdeployment
// patch too, both stay. Only on this tag, kubeadm's own version, which the release's
// tags never are (TestKubeadmStopsOnReleaseTags; on the node,
// TestKubeadmPatchesDoNotKeepThePlugin).
func TestKubeadmAddonStepRevertsTheDeployment(t *testing.T) {
	t.Parallel()
	kc := startKubeadmCluster(t, kubeadmConfig(t, "cluster.local"))
	kubeadmImage := kc.deployment(t).Spec.Template.Spec.Containers[0].Image
	kc.install(t)
	kc.setImage(t, installRepository+":"+imageTag(kubeadmImage))
	corefile := kc.configMap(t).Data["Corefile"]

	kc.kubeadmAddon(t, kc.cfg)
	if got := kc.configMap(t).Data["Corefile"]; got != corefile {
		t.Errorf("kubeadm's addon step changed the Corefile:\n%s\nwant it kept:\n%s", got, corefile)
	}
	c0 := kc.deployment(t).Spec.Template.Spec.Containers[0]
	if c0.Image != kubeadmImage || hasDownwardEnv(c0.Env) {
		t.Errorf("after kubeadm's addon step the Deployment runs %q with env %v; want kubeadm's image %q and no Downward API variables",
			c0.Image, envNames(c0.Env), kubeadmImage)
	}

	ours := kc.cfg
	ours.DNSImageRepo, ours.DNSImageTag = path.Dir(installRepository), imageTag(kubeadmImage)
	kc.kubeadmAddon(t, ours)
	if c0 := kc.deployment(t).Spec.Template.Spec.Containers[0]; c0.Image != kc.image || hasDownwardEnv(c0.Env) {
		t.Errorf("after kubeadm's addon step with dns.imageRepository and dns.imageTag, the Deployment runs %q with env %v; want %q and no Downward API variables",
			c0.Image, envNames(c0.Env), kc.image)
	}

	env, err := os.ReadFile(suite.paths.Deploy("patches/deployment-env.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ours.PatchesDir = filepath.Join(kc.dir, "patches")
	if err := os.Mkdir(ours.PatchesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ours.PatchesDir, "corednsdeployment+strategic.yaml"), env, 0o644); err != nil {
		t.Fatal(err)
	}
	kc.kubeadmAddon(t, ours)
	if c0 := kc.deployment(t).Spec.Template.Spec.Containers[0]; c0.Image != kc.image || !hasDownwardEnv(c0.Env) {
		t.Errorf("after kubeadm's addon step with dns.imageRepository, dns.imageTag and the env patch, the Deployment runs %q with env %v; want %q and the Downward API variables",
			c0.Image, envNames(c0.Env), kc.image)
	}
	if got := kc.configMap(t).Data["Corefile"]; got != corefile {
		t.Errorf("kubeadm's addon step with the env patch changed the Corefile:\n%s\nwant it kept:\n%s", got, corefile)
	}
}

// ignorePreflight is kubeadm's flag that turns the preflight errors it names into
// warnings.
var ignorePreflight = regexp.MustCompile(`--ignore-preflight-errors=\S+`)

// TestKubeadmUpgradePreflight: on the installed plugin, kubeadm's upgrade preflight stops
// on the Corefile (CoreDNSUnsupportedPlugins, CoreDNSMigration); the README's `kubeadm
// upgrade plan` passes both checks, which then only warn, and its `kubeadm upgrade apply`
// passes the same checks and skips the addon step. Only plan runs here: it runs the same
// CoreDNS checks as apply, first, and changes nothing (it stops next, as there is no
// kubeadm-config), while apply would go on to rewrite this machine's control plane.
func TestKubeadmUpgradePreflight(t *testing.T) {
	t.Parallel()
	kc := startKubeadmCluster(t, kubeadmConfig(t, "cluster.local"))
	kc.install(t)
	checks := []string{"CoreDNSUnsupportedPlugins", "CoreDNSMigration"}
	var plan, apply string
	for _, c := range readme(t, devenv.ReadmeUpgrade) {
		switch {
		case strings.HasPrefix(c, "kubeadm upgrade plan "):
			plan = c
		case strings.HasPrefix(c, "kubeadm upgrade apply "):
			apply = c
		}
	}
	if plan == "" || apply == "" {
		t.Fatalf("the README's %q commands have no kubeadm upgrade plan or apply", devenv.ReadmeUpgrade)
	}
	if flags := ignorePreflight.FindString(plan); flags == "" || ignorePreflight.FindString(apply) != flags || !strings.Contains(apply, " --skip-phases=addon/coredns") {
		t.Errorf("the README's upgrade apply %q must skip addon/coredns and ignore what its plan %q ignores", apply, plan)
	}

	without := strings.Join(strings.Fields(ignorePreflight.ReplaceAllString(plan, "")), " ")
	out, err := kc.plan(t, without)
	for _, check := range checks {
		if err == nil || !strings.Contains(out, "[ERROR "+check+"]") || strings.Contains(out, afterPreflight) {
			t.Errorf("%s: want its preflight to stop on [ERROR %s]; it printed:\n%s", without, check, out)
		}
	}
	out, _ = kc.plan(t, plan)
	for _, check := range checks {
		if strings.Contains(out, "[ERROR "+check+"]") || !strings.Contains(out, "[WARNING "+check+"]") || !strings.Contains(out, afterPreflight) {
			t.Errorf("%s: want [WARNING %s], not [ERROR %s], and its preflight passed; it printed:\n%s", plan, check, check, out)
		}
	}

	// deploy/kubeadm/upgrade.yaml, kubeadm's UpgradeConfiguration, loads as kubeadm reads
	// it (strictly: an unknown field is an error) and ignores the same checks.
	if out, err := suite.paths.RunCommand(setUpContext(t), kc.cp.AdminKubeconfig(), "kubeadm config validate --config deploy/kubeadm/upgrade.yaml", nil); err != nil {
		t.Errorf("kubeadm config validate --config deploy/kubeadm/upgrade.yaml: %v\n%s", err, out)
	}
	withConfig := "kubeadm upgrade plan --config deploy/kubeadm/upgrade.yaml"
	out, _ = kc.plan(t, withConfig)
	for _, check := range checks {
		if strings.Contains(out, "[ERROR "+check+"]") || !strings.Contains(out, "[WARNING "+check+"]") || !strings.Contains(out, afterPreflight) {
			t.Errorf("%s: want [WARNING %s], not [ERROR %s], and its preflight passed; it printed:\n%s", withConfig, check, check, out)
		}
	}
}

// afterPreflight is what kubeadm upgrade plan prints on the step after its preflight: the
// output says whether plan got there.
const afterPreflight = `Reading configuration from the "kubeadm-config" ConfigMap`

// plan runs command, a kubeadm upgrade plan, against kc. On a control-plane node kubeadm
// reads /etc/kubernetes/admin.conf; here, the test's. Right after its preflight, plan
// reads kubeadm's ClusterConfiguration from the cluster, retrying while there is none: an
// empty kubeadm-config ends it at once.
func (kc *kubeadmCluster) plan(t *testing.T, command string) (string, error) {
	t.Helper()
	kubeadmConfigMap := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kubeadm-config", Namespace: devenv.CoreDNSNamespace}}
	_, err := kc.cp.AdminClient().CoreV1().ConfigMaps(devenv.CoreDNSNamespace).Create(setUpContext(t), kubeadmConfigMap, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	return suite.paths.RunCommand(setUpContext(t), kc.cp.AdminKubeconfig(), command+" --kubeconfig "+kc.cp.AdminKubeconfig(), nil)
}
