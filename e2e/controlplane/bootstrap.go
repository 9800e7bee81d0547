package controlplane

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	rbacac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/kubernetes"
)

// Defaults for BootstrapOptions.
const (
	DefaultPodName = "coredns-test"
	DefaultImage   = "coredns/coredns"
)

// fieldManager names this package as the owner of what it applies.
const fieldManager = "k8s-event-e2e"

// BootstrapOptions configures Bootstrap.
type BootstrapOptions struct {
	// Files are YAML manifests (several documents each) to apply, e.g.
	// deploy/rbac.yaml and, for tests of the kubernetes plugin,
	// deploy/coredns-clusterrole.yaml. Supported kinds: Role, RoleBinding,
	// ClusterRole, ClusterRoleBinding (rbac.authorization.k8s.io/v1).
	Files []string
	// PodName names the CoreDNS Pod in kube-system; DefaultPodName if empty.
	PodName string
	// Image is the Pod's container image; DefaultImage if empty. Nothing
	// pulls it: with no node, the Pod stays Pending.
	Image string
}

// Bootstrap prepares kube-system the way a cluster would have it for CoreDNS:
// the namespace, ServiceAccounts default and coredns (no controller-manager
// creates them here), the objects in opts.Files, and a CoreDNS Pod. It returns
// the Pod, whose name and UID CoreDNS reports Events on. It may be called
// again: what exists is kept, and manifests are re-applied.
func (cp *ControlPlane) Bootstrap(ctx context.Context, opts BootstrapOptions) (*corev1.Pod, error) {
	c := cp.AdminClient()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: metav1.NamespaceSystem}}
	if _, err := c.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, err
	}
	for _, name := range []string{"default", "coredns"} {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: metav1.NamespaceSystem}}
		if _, err := c.CoreV1().ServiceAccounts(metav1.NamespaceSystem).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, err
		}
	}
	for _, f := range opts.Files {
		if err := ApplyFile(ctx, c, f); err != nil {
			return nil, err
		}
	}

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      cmp.Or(opts.PodName, DefaultPodName),
			Namespace: metav1.NamespaceSystem,
			Labels:    map[string]string{"k8s-app": "kube-dns"},
		},
		Spec: corev1.PodSpec{
			ServiceAccountName:           "coredns",
			AutomountServiceAccountToken: new(false),
			Containers: []corev1.Container{{
				Name:  "coredns",
				Image: cmp.Or(opts.Image, DefaultImage),
			}},
		},
	}
	created, err := c.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return c.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
	}
	return created, err
}

// ApplyFile server-side applies the RBAC objects in a multi-document YAML file.
func ApplyFile(ctx context.Context, c kubernetes.Interface, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var doc json.RawMessage
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if len(doc) == 0 || string(doc) == "null" { // empty document
			continue
		}
		if err := applyDoc(ctx, c, doc); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
}

// applyDoc applies one JSON document by its kind.
func applyDoc(ctx context.Context, c kubernetes.Interface, doc []byte) error {
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(doc, &meta); err != nil {
		return err
	}
	if meta.APIVersion != "rbac.authorization.k8s.io/v1" {
		return fmt.Errorf("%s %q: unsupported apiVersion %q", meta.Kind, meta.Metadata.Name, meta.APIVersion)
	}
	ns := cmp.Or(meta.Metadata.Namespace, metav1.NamespaceDefault)
	apply := metav1.ApplyOptions{FieldManager: fieldManager, Force: true}
	rbac := c.RbacV1()
	var err error
	switch meta.Kind {
	case "Role":
		var obj rbacac.RoleApplyConfiguration
		if err = json.Unmarshal(doc, &obj); err == nil {
			_, err = rbac.Roles(ns).Apply(ctx, obj.WithNamespace(ns), apply)
		}
	case "RoleBinding":
		var obj rbacac.RoleBindingApplyConfiguration
		if err = json.Unmarshal(doc, &obj); err == nil {
			_, err = rbac.RoleBindings(ns).Apply(ctx, obj.WithNamespace(ns), apply)
		}
	case "ClusterRole":
		var obj rbacac.ClusterRoleApplyConfiguration
		if err = json.Unmarshal(doc, &obj); err == nil {
			_, err = rbac.ClusterRoles().Apply(ctx, &obj, apply)
		}
	case "ClusterRoleBinding":
		var obj rbacac.ClusterRoleBindingApplyConfiguration
		if err = json.Unmarshal(doc, &obj); err == nil {
			_, err = rbac.ClusterRoleBindings().Apply(ctx, &obj, apply)
		}
	default:
		return fmt.Errorf("%s %q: unsupported kind", meta.Kind, meta.Metadata.Name)
	}
	if err != nil {
		return fmt.Errorf("%s %q: %w", meta.Kind, meta.Metadata.Name, err)
	}
	return nil
}
