package e2e

import (
	"regexp"
	"strings"
	"testing"

	"github.com/coredns/k8s_event/internal/devenv"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The kubeadm tests run kubeadm itself (BinDir's, at the harness's Kubernetes version)
// against a cluster on which the plugin is installed: what its CoreDNS addon step, which
// `kubeadm upgrade apply` runs, does to the plugin, and what its upgrade preflight says.

// imageTag is the tag of an image reference.
func imageTag(image string) string { return image[strings.LastIndexByte(image, ':')+1:] }

// TestKubeadmAddonStepStopsOnOurTag: with the plugin installed from an image whose tag is
// not a CoreDNS version (this repository's images are tagged with its own versions),
// kubeadm's CoreDNS addon step fails, saying that it cannot migrate from that version, and
// changes nothing: `kubeadm upgrade apply` would stop there, after upgrading the control
// plane. This is why the README skips the step.
func TestKubeadmAddonStepStopsOnOurTag(t *testing.T) {
	t.Parallel()
	kc := startKubeadmCluster(t, kubeadmConfig(t, "cluster.local"))
	kc.install(t)
	cm, d := kc.configMap(t), kc.deployment(t)

	out, err := suite.paths.KubeadmCoreDNS(setUpContext(t), kc.cp.AdminKubeconfig(), kc.dir, kc.cfg)
	if err == nil || !strings.Contains(err.Error(), "start version '"+imageTag(installImage)+"' not supported") {
		t.Errorf("kubeadm's addon step on the installed plugin: %v\n%s\nwant it to fail: start version %q not supported", err, out, imageTag(installImage))
	}
	if got := kc.configMap(t); got.ResourceVersion != cm.ResourceVersion {
		t.Errorf("the failed addon step changed the ConfigMap:\n%s", got.Data["Corefile"])
	}
	if got := kc.deployment(t); got.ResourceVersion != d.ResourceVersion {
		t.Errorf("the failed addon step changed the Deployment: %s", specJSON(t, got))
	}
}

// TestKubeadmAddonStepRevertsTheDeployment: with the plugin installed from an image
// tagged with kubeadm's own CoreDNS version, kubeadm's addon step keeps the Corefile, byte
// for byte, with the plugin's lines, but puts its own Deployment back: its image, whose
// CoreDNS refuses the k8s_event line, and no Downward API environment. With
// dns.imageRepository and dns.imageTag naming the plugin's image, the image stays, but
// the environment is still gone.
func TestKubeadmAddonStepRevertsTheDeployment(t *testing.T) {
	t.Parallel()
	kc := startKubeadmCluster(t, kubeadmConfig(t, "cluster.local"))
	kubeadmImage := kc.deployment(t).Spec.Template.Spec.Containers[0].Image
	kc.image = "k8s-event-e2e/coredns:" + imageTag(kubeadmImage)
	kc.install(t)
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
	ours.DNSImageRepo, ours.DNSImageTag = "k8s-event-e2e", imageTag(kubeadmImage)
	kc.kubeadmAddon(t, ours)
	if c0 := kc.deployment(t).Spec.Template.Spec.Containers[0]; c0.Image != kc.image || hasDownwardEnv(c0.Env) {
		t.Errorf("after kubeadm's addon step with dns.imageRepository and dns.imageTag, the Deployment runs %q with env %v; want %q and no Downward API variables",
			c0.Image, envNames(c0.Env), kc.image)
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

	// On a control-plane node kubeadm reads /etc/kubernetes/admin.conf; here, the test's.
	// Right after its preflight, plan reads kubeadm's ClusterConfiguration from the
	// cluster, retrying while there is none: an empty kubeadm-config ends it at once.
	plan += " --kubeconfig " + kc.cp.AdminKubeconfig()
	kubeadmConfigMap := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kubeadm-config", Namespace: devenv.CoreDNSNamespace}}
	if _, err := kc.cp.AdminClient().CoreV1().ConfigMaps(devenv.CoreDNSNamespace).Create(setUpContext(t), kubeadmConfigMap, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The step after the preflight: the output says whether plan got there.
	const next = `Reading configuration from the "kubeadm-config" ConfigMap`
	without := strings.Join(strings.Fields(ignorePreflight.ReplaceAllString(plan, "")), " ")
	out, err := suite.paths.RunCommand(setUpContext(t), kc.cp.AdminKubeconfig(), without, nil)
	for _, check := range checks {
		if err == nil || !strings.Contains(out, "[ERROR "+check+"]") || strings.Contains(out, next) {
			t.Errorf("%s: want its preflight to stop on [ERROR %s]; it printed:\n%s", without, check, out)
		}
	}
	out, _ = suite.paths.RunCommand(setUpContext(t), kc.cp.AdminKubeconfig(), plan, nil)
	for _, check := range checks {
		if strings.Contains(out, "[ERROR "+check+"]") || !strings.Contains(out, "[WARNING "+check+"]") || !strings.Contains(out, next) {
			t.Errorf("%s: want [WARNING %s], not [ERROR %s], and its preflight passed; it printed:\n%s", plan, check, check, out)
		}
	}
}
