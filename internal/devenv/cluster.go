package devenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CoreDNSNamespace is where CoreDNS runs in a cluster, and its Pods here.
const CoreDNSNamespace = metav1.NamespaceSystem

// Apply server-side applies every object of the YAML files (several documents each),
// of any kind the API server serves.
func (cp *ControlPlane) Apply(ctx context.Context, files ...string) error {
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			var obj unstructured.Unstructured
			if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			if obj.Object == nil { // an empty document
				continue
			}
			ac := client.ApplyConfigurationFromUnstructured(&obj)
			if err := cp.apply.Apply(ctx, ac, client.FieldOwner("k8s-event-devenv"), client.ForceOwnership); err != nil {
				return fmt.Errorf("%s: %s %q: %w", f, obj.GetKind(), obj.GetName(), err)
			}
		}
	}
	return nil
}

// CoreDNSPod creates Pod NAME in kube-system, run by ServiceAccount coredns, or returns
// the one there is. It stays Pending (there is no node): enough for CoreDNS to report
// on an object with a name and a UID.
func (cp *ControlPlane) CoreDNSPod(ctx context.Context, name string) (*corev1.Pod, error) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: CoreDNSNamespace, Labels: map[string]string{"k8s-app": "kube-dns"}},
		Spec: corev1.PodSpec{
			ServiceAccountName:           "coredns",
			AutomountServiceAccountToken: new(false),
			Containers:                   []corev1.Container{{Name: "coredns", Image: "coredns/coredns"}},
		},
	}
	pods := cp.client.CoreV1().Pods(CoreDNSNamespace)
	created, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return pods.Get(ctx, name, metav1.GetOptions{})
	}
	return created, err
}

// ServiceAccountKubeconfig creates ServiceAccount NAMESPACE/NAME if it does not exist
// and writes a kubeconfig with a token of it (TokenRequest, valid for a day): its user
// is system:serviceaccount:NAMESPACE:NAME, with only what RBAC binds to it. It returns
// the file's path.
func (cp *ControlPlane) ServiceAccountKubeconfig(ctx context.Context, namespace, name string) (string, error) {
	sas := cp.client.CoreV1().ServiceAccounts(namespace)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
	if _, err := sas.Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", err
	}
	day := int64(24 * 3600)
	tr, err := sas.CreateToken(ctx, name, &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &day}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token of ServiceAccount %s/%s: %w", namespace, name, err)
	}
	path := cp.path(fmt.Sprintf("%s-%s.kubeconfig", namespace, name))
	return path, writeKubeconfig(path, cp.admin, &clientcmdapi.AuthInfo{Token: tr.Status.Token})
}

// writeKubeconfig writes a kubeconfig for the cluster of cfg, with the user auth.
func writeKubeconfig(path string, cfg *rest.Config, auth *clientcmdapi.AuthInfo) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["local"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["user"] = auth
	kc.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "user"}
	kc.CurrentContext = "local"
	return clientcmd.WriteToFile(*kc, path)
}

// ServiceAccountUser is the user name the API server gives a ServiceAccount's tokens.
func ServiceAccountUser(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

// Ungated writes a copy of kubeconfig that reaches kube-apiserver directly instead of
// through the gate, and returns its path: its clients see a starting API server as it
// is, refusing requests (401, 403) until its authorizers are ready.
func (cp *ControlPlane) Ungated(kubeconfig string) (string, error) {
	kc, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		return "", err
	}
	for _, c := range kc.Clusters {
		c.Server = cp.env.Config.Host
	}
	path := strings.TrimSuffix(kubeconfig, ".kubeconfig") + "-ungated.kubeconfig"
	return path, clientcmd.WriteToFile(*kc, path)
}

// DownwardEnv is the environment deploy/patches/deployment-env.yaml gives CoreDNS through
// the Downward API, for pod on node; without withUID, COREDNS_POD_UID is left out and the
// plugin looks the UID up.
func DownwardEnv(pod *corev1.Pod, node string, withUID bool) []string {
	env := []string{"COREDNS_POD_NAME=" + pod.Name, "COREDNS_NAMESPACE=" + pod.Namespace, "COREDNS_NODE_NAME=" + node}
	if withUID {
		env = append(env, "COREDNS_POD_UID="+string(pod.UID))
	}
	return env
}

// CoreDNSKubeconfig applies manifests (deploy/rbac.yaml, and whatever else CoreDNS may
// do) and returns a kubeconfig of ServiceAccount kube-system/coredns, for the Corefile's
// kubeapi: CoreDNS with the rights the manifests give it, and no others.
func (cp *ControlPlane) CoreDNSKubeconfig(ctx context.Context, manifests ...string) (string, error) {
	if err := cp.Apply(ctx, manifests...); err != nil {
		return "", err
	}
	return cp.ServiceAccountKubeconfig(ctx, CoreDNSNamespace, "coredns")
}
