package k8s_event

import (
	"time"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/kubeapi"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

// options are what a pipeline is built from: the process's own in production, and
// whatever a test needs to change, in plain sight.
type options struct {
	// clientFor returns the Kubernetes client of a server block: kubeapi's.
	clientFor func(*dnsserver.Config) (kubernetes.Interface, error)
	// identity is the CoreDNS Pod, from the Downward API.
	identity identity
	// clock drives the token buckets, the waits between retries and the age of lines.
	clock clock.Clock
	// apiTimeout bounds one Kubernetes API call.
	apiTimeout time.Duration
	// maxAge is how long after it was logged a line may still be written.
	maxAge time.Duration
	// retry spaces the tries of an event write the API failed for a transient reason.
	retry backoff
	// lookupRetry spaces the tries of the Pod UID lookup, with the write retries' jitter:
	// replicas that start together during an outage do not look up together.
	lookupRetry backoff
	// fatalTimeout bounds the write of a fatal line, which happens before the log call
	// returns since CoreDNS exits right after.
	fatalTimeout time.Duration
	// flushTimeout bounds the writing of what is still on its way at final shutdown.
	flushTimeout time.Duration
	// log prints the plugin's own messages.
	log *selfLog
}

func defaultOptions() options {
	return options{
		clientFor:    kubeapi.Client,
		identity:     identityFromEnv(),
		clock:        clock.RealClock{},
		apiTimeout:   10 * time.Second,
		maxAge:       15 * time.Minute,
		retry:        backoff{initial: time.Second, max: 30 * time.Second, jitter: 0.5},
		lookupRetry:  backoff{initial: time.Second, max: time.Minute, jitter: 0.5},
		fatalTimeout: 2 * time.Second,
		flushTimeout: 2 * time.Second,
		log:          newSelfLog(time.Minute),
	}
}
