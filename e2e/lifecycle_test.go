package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The lifecycle tests: the README's Install and Uninstall commands, run as written (but
// for the image) on CoreDNS as kubeadm makes it, and what kubeadm's CoreDNS addon step
// and its upgrade preflight make of the installed plugin. The objects are checked on a
// real API server; that CoreDNS serves throughout is for the tests on a real node.

// kubeadmCluster is a control plane on which kubeadm's addon step made CoreDNS.
type kubeadmCluster struct {
	cp      *devenv.ControlPlane
	cfg     devenv.KubeadmConfig
	dir     string // the kubeadm configuration file's
	version string // the README's RELEASE: installVersion unless a test changes it
	image   string // the image the install sets (see install), or a test set (setImage)
}

// kubeadmConfig is the ClusterConfiguration the tests give kubeadm: the Kubernetes
// version the harness runs, a cluster domain, and the Service range of envtest's
// kube-apiserver (kube-dns gets its 10th address).
func kubeadmConfig(t *testing.T, domain string) devenv.KubeadmConfig {
	t.Helper()
	v, err := suite.paths.KubernetesVersion()
	if err != nil {
		t.Fatal(err)
	}
	return devenv.KubeadmConfig{KubernetesVersion: v, DNSDomain: domain, ServiceSubnet: "10.0.0.0/24"}
}

// startKubeadmCluster starts a control plane for t alone and makes CoreDNS there with
// kubeadm (`kubeadm init phase addon coredns`).
func startKubeadmCluster(t *testing.T, cfg devenv.KubeadmConfig) *kubeadmCluster {
	t.Helper()
	kc := &kubeadmCluster{cp: startControlPlane(t), cfg: cfg, dir: t.TempDir(), version: installVersion}
	kc.kubeadmAddon(t, cfg)
	return kc
}

// kubeadmAddon runs kubeadm's CoreDNS addon step with cfg and fails t if it fails.
func (kc *kubeadmCluster) kubeadmAddon(t *testing.T, cfg devenv.KubeadmConfig) string {
	t.Helper()
	var out string
	setUp(t, "kubeadm's CoreDNS addon step", func(ctx context.Context) (err error) {
		out, err = suite.paths.KubeadmCoreDNS(ctx, kc.cp.AdminKubeconfig(), kc.dir, cfg)
		return err
	})
	return out
}

// run runs one README command as the admin, with vars for its placeholders.
func (kc *kubeadmCluster) run(t *testing.T, command string, vars map[string]string) string {
	t.Helper()
	var out string
	setUp(t, "the README's command "+command, func(ctx context.Context) (err error) {
		out, err = suite.paths.RunCommand(ctx, kc.cp.AdminKubeconfig(), command, vars)
		return err
	})
	t.Logf("%s\n%s", command, strings.TrimSpace(out))
	return out
}

// readme returns the commands of a README section.
func readme(t *testing.T, heading string) []string {
	t.Helper()
	cmds, err := devenv.ReadmeCommands(suite.paths.Root, heading)
	if err != nil {
		t.Fatal(err)
	}
	return cmds
}

// waitsForRollout reports whether a README command waits for the Deployment's rollout,
// which never ends here: there is no controller-manager, nor kubelet. The tests on a
// real node run it.
func waitsForRollout(command string) bool { return strings.Contains(command, " rollout status ") }

// install runs the README's Install commands with installRepository for REPOSITORY and
// kc.version for RELEASE, checking after each that the Corefile names the plugin only
// once the Deployment runs an image that has it. The image the install must set, kept
// in kc.image, is the release's tag function's (tools/image tag) for kc.version and the
// CoreDNS version of the image kubeadm set: installing the plugin keeps CoreDNS's
// version. It returns the output of the first command: the image before the install.
func (kc *kubeadmCluster) install(t *testing.T) (previousImage string) {
	t.Helper()
	tag, err := suite.paths.ReleaseTag(setUpContext(t), kc.version, imageTag(kc.deployment(t).Spec.Template.Spec.Containers[0].Image))
	if err != nil {
		t.Fatal(err)
	}
	kc.image = installRepository + ":" + tag
	for i, c := range readme(t, devenv.ReadmeInstall) {
		if waitsForRollout(c) {
			continue
		}
		out := kc.run(t, c, map[string]string{"REPOSITORY": installRepository, "RELEASE": kc.version})
		if i == 0 {
			previousImage = strings.TrimSpace(out)
		}
		kc.checkOrder(t, c)
	}
	return previousImage
}

// uninstall runs the README's Uninstall commands, with previous for PREVIOUS_IMAGE,
// checking the order after each.
func (kc *kubeadmCluster) uninstall(t *testing.T, previous string) {
	t.Helper()
	for _, c := range readme(t, devenv.ReadmeUninstall) {
		if waitsForRollout(c) {
			continue
		}
		kc.run(t, c, map[string]string{"PREVIOUS_IMAGE": previous})
		kc.checkOrder(t, c)
	}
}

// namesPlugin matches a Corefile line of kubeapi or k8s_event.
var namesPlugin = regexp.MustCompile(`(?m)^\s*(kubeapi|k8s_event)(\s|\{|$)`)

// checkOrder fails t if, after command, the Corefile names kubeapi or k8s_event while the
// Deployment runs an image without them: its CoreDNS would refuse the Corefile and
// crash-loop.
func (kc *kubeadmCluster) checkOrder(t *testing.T, command string) {
	t.Helper()
	image := kc.deployment(t).Spec.Template.Spec.Containers[0].Image
	if cf := kc.configMap(t).Data["Corefile"]; namesPlugin.MatchString(cf) && image != kc.image {
		t.Errorf("after %q, the Corefile names the plugin but CoreDNS runs %s:\n%s", command, image, cf)
	}
}

// configMap is the coredns ConfigMap.
func (kc *kubeadmCluster) configMap(t *testing.T) *corev1.ConfigMap {
	t.Helper()
	cm, err := kc.cp.AdminClient().CoreV1().ConfigMaps(devenv.CoreDNSNamespace).Get(timeout(t, 30*time.Second), "coredns", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cm
}

// setImage sets the coredns container's image as an operator would by hand, for the
// tests of images the install never sets (a digest alone, kubeadm's own tag).
func (kc *kubeadmCluster) setImage(t *testing.T, image string) {
	t.Helper()
	d := kc.deployment(t)
	d.Spec.Template.Spec.Containers[0].Image = image
	if _, err := kc.cp.AdminClient().AppsV1().Deployments(devenv.CoreDNSNamespace).Update(timeout(t, 30*time.Second), d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	kc.image = image
}

// deployment is the coredns Deployment.
func (kc *kubeadmCluster) deployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	d, err := kc.cp.AdminClient().AppsV1().Deployments(devenv.CoreDNSNamespace).Get(timeout(t, 30*time.Second), "coredns", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// installed is what the install adds to the cluster, as objects: its Role and
// RoleBinding, the names of each that exist.
func (kc *kubeadmCluster) installed(t *testing.T) []string {
	t.Helper()
	ctx, rbac := timeout(t, 30*time.Second), kc.cp.AdminClient().RbacV1()
	var found []string
	if _, err := rbac.Roles(devenv.CoreDNSNamespace).Get(ctx, "coredns-k8s-event", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		found = append(found, fmt.Sprintf("Role coredns-k8s-event (%v)", err))
	}
	if _, err := rbac.RoleBindings(devenv.CoreDNSNamespace).Get(ctx, "coredns-k8s-event", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		found = append(found, fmt.Sprintf("RoleBinding coredns-k8s-event (%v)", err))
	}
	return found
}

// downwardAPI are the variables the install adds to the coredns container, and the Pod
// fields that set them.
var downwardAPI = map[string]string{
	"COREDNS_POD_NAME":  "metadata.name",
	"COREDNS_NAMESPACE": "metadata.namespace",
	"COREDNS_POD_UID":   "metadata.uid",
	"COREDNS_NODE_NAME": "spec.nodeName",
}

// hasDownwardEnv reports whether env sets every variable of downwardAPI from its field.
func hasDownwardEnv(env []corev1.EnvVar) bool {
	n := 0
	for _, e := range env {
		if f := e.ValueFrom; f != nil && f.FieldRef != nil && downwardAPI[e.Name] == f.FieldRef.FieldPath {
			n++
		}
	}
	return n == len(downwardAPI)
}

// envNames are the names of env's entries.
func envNames(env []corev1.EnvVar) []string {
	names := make([]string, len(env))
	for i, e := range env {
		names[i] = e.Name
	}
	return names
}

// specJSON is a Deployment's spec as JSON, to compare two.
func specJSON(t *testing.T, d *appsv1.Deployment) string {
	t.Helper()
	data, err := json.Marshal(d.Spec)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// withLinesAfterFirst is corefile with lines inserted after its first line: what the
// README's corefile.sh add should make of kubeadm's Corefile, written here on its own.
func withLinesAfterFirst(corefile string, lines ...string) string {
	first, rest, _ := strings.Cut(corefile, "\n")
	return first + "\n" + strings.Join(lines, "\n") + "\n" + rest
}

// TestInstallUninstall: on kubeadm's CoreDNS with a cluster domain of its own, the
// README's Install adds the two Corefile lines and nothing else (kubeadm's cache block
// and domain kept), the image, the Downward API environment and the RBAC, and changes
// nothing more when run again; its Uninstall leaves the ConfigMap coredns as it was, byte
// for byte, the Deployment as it was, and nothing the install added; kubeadm's addon step
// then runs again as on any kubeadm cluster. At no step does the Corefile name the plugin
// while CoreDNS runs kubeadm's image.
func TestInstallUninstall(t *testing.T) {
	t.Parallel()
	kc := startKubeadmCluster(t, kubeadmConfig(t, "k8s.example.internal"))
	cm0, d0 := kc.configMap(t), kc.deployment(t)
	cf0 := cm0.Data["Corefile"]
	for _, want := range []string{"kubernetes k8s.example.internal in-addr.arpa ip6.arpa", "disable success k8s.example.internal"} {
		if !strings.Contains(cf0, want) {
			t.Fatalf("kubeadm's Corefile has no %q: this test expects kubeadm's cluster domain and cache block:\n%s", want, cf0)
		}
	}

	previous := kc.install(t)
	if want := d0.Spec.Template.Spec.Containers[0].Image; previous != want {
		t.Errorf("the first install command printed %q, want the image before the install, %q", previous, want)
	}
	cm, d := kc.configMap(t), kc.deployment(t)
	if got, want := cm.Data["Corefile"], withLinesAfterFirst(cf0, "    kubeapi", "    k8s_event"); got != want {
		t.Errorf("installed Corefile:\n%s\nwant kubeadm's with the two lines after the first:\n%s", got, want)
	}
	c0 := d.Spec.Template.Spec.Containers[0]
	if c0.Image != kc.image || !hasDownwardEnv(c0.Env) {
		t.Errorf("installed Deployment: image %q, env %v; want %q and the Downward API variables", c0.Image, envNames(c0.Env), kc.image)
	}
	if got := kc.installed(t); len(got) != 2 {
		t.Errorf("after the install the cluster has %q, want the Role and the RoleBinding", got)
	}
	kc.run(t, "deploy/corefile.sh add", nil)
	if got := kc.configMap(t); got.ResourceVersion != cm.ResourceVersion {
		t.Errorf("deploy/corefile.sh add run again changed the ConfigMap:\n%s", got.Data["Corefile"])
	}

	kc.uninstall(t, previous)
	cm1, d1 := kc.configMap(t), kc.deployment(t)
	if !mapsEqual(cm1.Data, cm0.Data) || len(cm1.BinaryData)+len(cm0.BinaryData) > 0 || !mapsEqual(cm1.Labels, cm0.Labels) || !mapsEqual(cm1.Annotations, cm0.Annotations) {
		t.Errorf("after the uninstall the ConfigMap coredns is\n%q\nwant it as kubeadm made it\n%q", cm1.Data, cm0.Data)
	}
	if got, want := specJSON(t, d1), specJSON(t, d0); got != want {
		t.Errorf("after the uninstall the Deployment's spec is\n%s\nwant it as kubeadm made it\n%s", got, want)
	}
	if got := kc.installed(t); len(got) > 0 {
		t.Errorf("after the uninstall the cluster still has %q", got)
	}

	// CoreDNS is kubeadm's again: its addon step, which fails on the installed plugin
	// (TestKubeadmAddonStepStopsOnOurTag), runs and finds nothing to change.
	kc.kubeadmAddon(t, kc.cfg)
	if got := kc.configMap(t); got.Data["Corefile"] != cf0 {
		t.Errorf("kubeadm's addon step after the uninstall changed the Corefile:\n%s", got.Data["Corefile"])
	}
	if got, want := specJSON(t, kc.deployment(t)), specJSON(t, d0); got != want {
		t.Errorf("kubeadm's addon step after the uninstall changed the Deployment's spec:\n%s\nwant\n%s", got, want)
	}
}

// mapsEqual reports whether two maps hold the same entries, nil and empty alike.
func mapsEqual[V comparable](a, b map[string]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
