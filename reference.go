package k8s_event

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	// As the API's answer for a missing object: a final failure (see failures), not
	// one that has the lookup tried again before every write.
	return "", apierrors.NewNotFound(corev1.Resource("pods"), id.podName)
}

// podReference is the involved object of every event: the CoreDNS Pod, or the default
// Namespace when the Pod is unknown. Without COREDNS_POD_UID it completes itself with
// the Pod's UID once a lookup finds it (see lookup).
type podReference struct {
	current atomic.Pointer[corev1.ObjectReference]
	done    chan struct{} // closed when current is final
	turns   lookupTurns   // when the writes have the lookup tried, and wait for it

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
		done:    make(chan struct{}),
		turns:   newLookupTurns(),
		id:      id,
		client:  client,
		clock:   clk,
		timeout: timeout,
		retry:   retry,
		log:     log,
	}
	r.current.Store(id.reference())
	return r
}

// load returns the involved object as it is now.
func (r *podReference) load() *corev1.ObjectReference { return r.current.Load() }

// waitLookup is called before each try of an event write (which has a client, as the
// lookup needs), so that no event the API server stores lacks the UID that a lookup
// could have found just before. While the lookup's latest try failed for a reason a
// write would retry (the API server unreachable, starting or overloaded), it has the
// lookup tried at once, and waits for that try; it waits too for a try that is running,
// the first one included. A lookup try is bounded by the API timeout, and ctx may end
// the wait first. After a final failure (list pods forbidden, the Pod not found) it does
// not wait: the lookup goes on with its own backoff. It reports whether the try it waited
// for failed for a reason a write would retry: the API server, just back, may take the
// write a moment later, which would then lack the UID.
func (r *podReference) waitLookup(ctx context.Context) (refusedTransiently bool) {
	select {
	case <-r.done:
		return false
	default:
	}
	ended := r.turns.ask()
	if ended == nil {
		return false
	}
	select {
	case <-ended:
		return r.turns.refusedTransiently()
	case <-r.done:
	case <-ctx.Done():
	}
	return false
}

// lookup makes the involved object of the events final: without COREDNS_POD_UID it looks
// the Pod's UID up, retrying until it is found (an API server unreachable at start-up, a
// Pod not created yet) or ctx ends, so that kubectl describe pod shows the events. Tries
// are spaced by a capped exponential backoff with jitter; while the latest failed for a
// reason a write would retry, the next write has one made at once (see waitLookup).
func (r *podReference) lookup(ctx context.Context) {
	defer close(r.done)
	id := r.id
	if !id.hasPod() {
		r.log.printf(kindIdentity, "%s or %s is not set: reporting events on namespace %q instead of the CoreDNS Pod",
			envPodName, envNamespace, metav1.NamespaceDefault)
		r.turns.end(true, false)
		return
	}
	if id.podUID != "" {
		r.turns.end(true, false)
		return
	}
	var wait time.Duration
	var seen failures // what the tries met, classified as a write's are
	for {
		r.turns.begin()
		err := r.try(ctx)
		if err != nil && !isStatus(err) {
			seen = failures{} // unreachable again: a starting server's refusals count from here
		}
		r.turns.end(err == nil || !seen.retryable(err), err != nil && isStatus(err))
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			return
		}
		wait = r.retry.next(wait)
		jittered := r.retry.jittered(wait)
		r.log.printf(kindLookup, "pod UID lookup: could not look up Pod %s/%s, retrying in %s or before the next event write; "+
			"events until then have no UID (set %s from the Downward API to avoid the lookup): %v",
			id.namespace, id.podName, jittered, envPodUID, err)
		select {
		case <-r.clock.After(jittered):
		case <-r.turns.now:
		case <-ctx.Done():
			return
		}
	}
}

// try makes one lookup, waiting for a client first, and stores the UID it finds before
// the writes waiting for it go on.
func (r *podReference) try(ctx context.Context) error {
	client, err := r.client.wait(ctx, r.clock, r.clock.Now().Add(time.Hour))
	if err != nil {
		return err
	}
	lookupCtx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	uid, err := lookupPodUID(lookupCtx, client, r.id)
	if err != nil {
		return err
	}
	ref := *r.current.Load()
	ref.UID = uid
	r.current.Store(&ref)
	return nil
}

// lookupTurns tells the writes whether to have the UID lookup tried before they are sent,
// and which try to wait for (see podReference.waitLookup).
type lookupTurns struct {
	mu      sync.Mutex
	ended   chan struct{} // closed when the running try, or the next one, ends
	running bool          // a try runs
	// due: the latest try failed for a reason a write would be retried for (no answer,
	// a 5xx or 429, a starting API server's 401 or 403); set before the first try.
	due     bool
	refused bool          // the latest try failed with an answer of the API server
	now     chan struct{} // asks the lookup, waiting for its backoff, for a try at once
}

func newLookupTurns() lookupTurns {
	return lookupTurns{ended: make(chan struct{}), due: true, now: make(chan struct{}, 1)}
}

// ask returns what a write waits for before it is sent: the end of the running try, or
// of one it asks for at once if the latest was due another; nil if it need not wait.
func (l *lookupTurns) ask() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.due && !l.running {
		select {
		case l.now <- struct{}{}:
		default: // asked already
		}
	}
	if !l.running && !l.due {
		return nil
	}
	return l.ended
}

// refusedTransiently tells whether the latest try failed for a reason a write would
// retry, with an answer of the API server (a 503 or 429, a starting server's 401 or
// 403): one that answers may take a write a moment later. A try that got no answer says
// a write would get none either.
func (l *lookupTurns) refusedTransiently() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.due && l.refused && !l.running
}

// begin marks a try as running; a request for one made before it is met by it.
func (l *lookupTurns) begin() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.running = true
	select {
	case <-l.now:
	default:
	}
}

// end ends a try: final tells whether its failure, if it failed, is one a write would
// not retry, refused whether the API server answered it (see refusedTransiently). The writes waiting
// for it go on.
func (l *lookupTurns) end(final, refused bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.running = false
	l.due = !final
	l.refused = refused
	close(l.ended)
	l.ended = make(chan struct{})
}
