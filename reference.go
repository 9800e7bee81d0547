package k8s_event

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

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

// waitFirstLookup waits until the UID lookup has been tried once (it needs a client, as
// a write does, and is bounded by apiTimeout), so that the first events of a process
// whose API server is up carry the UID.
func (p *pipeline) waitFirstLookup() {
	select {
	case <-p.firstLookup:
	case <-p.ctx.Done():
	}
}

// completeReference makes the involved object of the events final: without
// COREDNS_POD_UID it looks the Pod's UID up, retrying with capped exponential backoff
// until it is found (an API server unreachable at start-up, a Pod not created yet), so
// that kubectl describe pod shows the events. Events written before then have no UID.
func (p *pipeline) completeReference() {
	defer close(p.refDone)
	var tried sync.Once
	defer tried.Do(func() { close(p.firstLookup) })
	id := p.opts.identity
	if !id.hasPod() {
		p.opts.log.printf("%s or %s is not set: reporting events on namespace %q instead of the CoreDNS Pod",
			envPodName, envNamespace, metav1.NamespaceDefault)
		return
	}
	if id.podUID != "" {
		return
	}
	var wait time.Duration
	for {
		client, err := p.client.wait(p.ctx, p.opts.clock, p.opts.clock.Now().Add(time.Hour))
		if err == nil {
			ctx, cancel := context.WithTimeout(p.ctx, p.opts.apiTimeout)
			var uid types.UID
			uid, err = lookupPodUID(ctx, client, id)
			cancel()
			if err == nil { // stored before firstLookup closes: the writes waiting on it see the UID
				ref := *p.ref.Load()
				ref.UID = uid
				p.ref.Store(&ref)
			}
			tried.Do(func() { close(p.firstLookup) })
			if err == nil {
				return
			}
		}
		if p.ctx.Err() != nil {
			return
		}
		wait = p.opts.lookupRetry.next(wait)
		p.opts.log.printf("pod UID lookup: could not look up Pod %s/%s, retrying in %s; events until then have no UID "+
			"(set %s from the Downward API to avoid the lookup): %v", id.namespace, id.podName, wait, envPodUID, err)
		select {
		case <-p.opts.clock.After(wait):
		case <-p.ctx.Done():
			return
		}
	}
}
