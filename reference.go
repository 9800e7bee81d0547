package k8s_event

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
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

// reference returns the involved object of every event: the CoreDNS Pod, or the default
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

// podReference is the involved object of every event: the CoreDNS Pod, or the default
// Namespace when the Pod is unknown. Without COREDNS_POD_UID it completes itself with
// the Pod's UID once a lookup finds it (see lookup).
type podReference struct {
	current     atomic.Pointer[corev1.ObjectReference]
	done        chan struct{} // closed when current is final
	firstLookup chan struct{} // closed when the UID lookup was tried once, or is not needed

	// What the lookup needs.
	id      identity
	client  *clientSlot
	clock   clock.Clock
	timeout time.Duration // of one lookup
	retry   backoff
	log     *selfLog
}

func newPodReference(id identity, client *clientSlot, clk clock.Clock, timeout time.Duration, retry backoff, log *selfLog) *podReference {
	r := &podReference{
		done:        make(chan struct{}),
		firstLookup: make(chan struct{}),
		id:          id,
		client:      client,
		clock:       clk,
		timeout:     timeout,
		retry:       retry,
		log:         log,
	}
	r.current.Store(id.reference())
	return r
}

// load returns the involved object as it is now.
func (r *podReference) load() *corev1.ObjectReference { return r.current.Load() }

// waitFirstLookup waits until the UID lookup has been tried once (it needs a client, as
// a write does, and is bounded by the API timeout), so that the first events of a
// process whose API server is up carry the UID; or until ctx ends.
func (r *podReference) waitFirstLookup(ctx context.Context) {
	select {
	case <-r.firstLookup:
	case <-ctx.Done():
	}
}

// lookup makes the involved object of the events final: without COREDNS_POD_UID it looks
// the Pod's UID up, retrying with capped exponential backoff until it is found (an API
// server unreachable at start-up, a Pod not created yet) or ctx ends, so that kubectl
// describe pod shows the events. Events written before then have no UID.
func (r *podReference) lookup(ctx context.Context) {
	defer close(r.done)
	var tried sync.Once
	defer tried.Do(func() { close(r.firstLookup) })
	id := r.id
	if !id.hasPod() {
		r.log.printf(kindIdentity, "%s or %s is not set: reporting events on namespace %q instead of the CoreDNS Pod",
			envPodName, envNamespace, metav1.NamespaceDefault)
		return
	}
	if id.podUID != "" {
		return
	}
	var wait time.Duration
	for {
		client, err := r.client.wait(ctx, r.clock, r.clock.Now().Add(time.Hour))
		if err == nil {
			lookupCtx, cancel := context.WithTimeout(ctx, r.timeout)
			var uid types.UID
			uid, err = lookupPodUID(lookupCtx, client, id)
			cancel()
			if err == nil { // stored before firstLookup closes: the writes waiting on it see the UID
				ref := *r.current.Load()
				ref.UID = uid
				r.current.Store(&ref)
			}
			tried.Do(func() { close(r.firstLookup) })
			if err == nil {
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
		wait = r.retry.next(wait)
		r.log.printf(kindLookup, "pod UID lookup: could not look up Pod %s/%s, retrying in %s; events until then have no UID "+
			"(set %s from the Downward API to avoid the lookup): %v", id.namespace, id.podName, wait, envPodUID, err)
		select {
		case <-r.clock.After(wait):
		case <-ctx.Done():
			return
		}
	}
}
