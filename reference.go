package k8s_event

import (
	"context"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Environment variables a CoreDNS Pod sets from the Downward API.
const (
	envPodName   = "COREDNS_POD_NAME"
	envNamespace = "COREDNS_NAMESPACE"
	envPodUID    = "COREDNS_POD_UID"
	envNodeName  = "COREDNS_NODE_NAME"
)

// identity is what the Downward API tells CoreDNS about its own Pod.
type identity struct {
	podName, namespace, podUID, nodeName string
}

func identityFromEnv() identity {
	return identity{
		podName:   os.Getenv(envPodName),
		namespace: os.Getenv(envNamespace),
		podUID:    os.Getenv(envPodUID),
		nodeName:  os.Getenv(envNodeName),
	}
}

// hasPod reports whether events can be reported on the CoreDNS Pod.
func (id identity) hasPod() bool { return id.podName != "" && id.namespace != "" }

// reference is the involved object of every event: the CoreDNS Pod, or the default
// Namespace when the Pod is unknown.
func (id identity) reference() *corev1.ObjectReference {
	if !id.hasPod() {
		return &corev1.ObjectReference{Kind: "Namespace", APIVersion: "v1", Name: metav1.NamespaceDefault}
	}
	return &corev1.ObjectReference{
		Kind:       "Pod",
		APIVersion: "v1",
		Name:       id.podName,
		Namespace:  id.namespace,
		UID:        types.UID(id.podUID),
	}
}

// lookupPodUID finds the UID of the named Pod by listing the Pods of its namespace with a
// field selector on the name, which the standard system:coredns ClusterRole allows.
func lookupPodUID(ctx context.Context, client kubernetes.Interface, id identity) (types.UID, error) {
	pods, err := client.CoreV1().Pods(id.namespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("metadata.name", id.podName).String(),
	})
	if err != nil {
		return "", err
	}
	for _, p := range pods.Items {
		if p.Name == id.podName {
			return p.UID, nil
		}
	}
	return "", fmt.Errorf("pod %s/%s not found", id.namespace, id.podName)
}
