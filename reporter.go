package k8s_event

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/tools/record/util"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// component is the Event source component.
const component = "CoreDNS"

// timing holds the reporter's time bounds; tests shorten them.
type timing struct {
	clock         clock.PassiveClock // token buckets and event timestamps
	apiTimeout    time.Duration      // one Events API call
	lookupTimeout time.Duration      // the Pod UID lookup at start
	fatalTimeout  time.Duration      // writing a fatal line before the process exits
	flushTimeout  time.Duration      // writing queued events when stopping
	retrySleep    time.Duration      // client-go's wait between tries of a failed write
}

var defaultTiming = timing{
	clock:         clock.RealClock{},
	apiTimeout:    10 * time.Second,
	lookupTimeout: 5 * time.Second,
	fatalTimeout:  2 * time.Second,
	flushTimeout:  2 * time.Second,
	retrySleep:    10 * time.Second,
}

// reporter turns the log lines its listener hands off into Events, through client-go's
// EventBroadcaster. A reload that keeps the settings keeps the reporter; one that changes
// them starts another. The process-wide one is the one whose listener is registered.
type reporter struct {
	cfg      *config
	timing   timing
	id       identity
	listener *listener

	queue        chan line
	ref          atomic.Pointer[corev1.ObjectReference]
	refReady     chan struct{} // closed once ref is final
	refInherited bool          // ref comes complete from the reporter this one replaced
	broadcaster  record.EventBroadcaster
	recorder     record.EventRecorderLogger
	sink         *eventSink
	cancel       context.CancelFunc // ends the sink's calls and the UID lookup

	stopping   chan struct{} // closed to ask the sender to finish
	senderDone chan struct{}
	stopOnce   sync.Once
	stopped    chan struct{}
}

// queueSize bounds the hand-off queue. Only lines the token bucket admitted enter it,
// so it needs little more than one burst.
func queueSize(burst int) int { return 2*burst + 16 }

// newReporter builds a reporter. prev, when not nil, is the reporter a reload replaces:
// the new one keeps its token buckets if the rate is unchanged, so a reload does not
// refill them, and its Pod reference, so a reload does not repeat the UID lookup.
func newReporter(cfg *config, client kubernetes.Interface, id identity, prev *reporter, tm timing) *reporter {
	var th *throttle
	if prev != nil && prev.listener.throttle.sameRate(cfg) {
		th = prev.listener.throttle
	} else {
		th = newThrottle(cfg.qps, cfg.burst, tm.clock)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &reporter{
		cfg:        cfg,
		timing:     tm,
		id:         id,
		queue:      make(chan line, queueSize(cfg.burst)),
		refReady:   make(chan struct{}),
		cancel:     cancel,
		stopping:   make(chan struct{}),
		senderDone: make(chan struct{}),
		stopped:    make(chan struct{}),
	}
	ref := id.reference()
	if prev != nil && prev.id == id {
		select {
		case <-prev.refReady:
			ref, r.refInherited = prev.ref.Load(), true
		default:
		}
	}
	r.ref.Store(ref)

	logger := deliveryLogger.logger()
	r.broadcaster = record.NewBroadcaster(
		record.WithContext(klog.NewContext(ctx, logger)),
		record.WithSleepDuration(tm.retrySleep),
		record.WithCorrelatorOptions(record.CorrelatorOptions{
			LRUCacheSize: cfg.cacheSize,
			// The throttle already charged every line; the correlator's own spam
			// filter must not charge it again.
			BurstSize: math.MaxInt32,
			QPS:       float32(math.Inf(1)),
			Clock:     tm.clock,
		}),
	)
	r.sink = newEventSink(ctx, tm.apiTimeout)
	r.useClient(client)
	r.broadcaster.StartRecordingToSink(r.sink)
	r.recorder = r.broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component, Host: id.nodeName}).WithLogger(logger)

	r.listener = &listener{
		levels:   cfg.levels,
		plugins:  cfg.pluginSet(),
		except:   cfg.except,
		throttle: th,
		queue:    r.queue,
		fatal:    r.writeFatal,
	}
	go r.send(ctx, client)
	return r
}

// useClient makes the reporter write through client from now on: a reload that keeps the
// settings keeps the reporter, with the API connection of the new configuration.
func (r *reporter) useClient(client kubernetes.Interface) {
	r.sink.use(client.CoreV1().Events(eventNamespace(r.ref.Load())))
}

// reusableFor reports whether a configuration with these settings can keep r.
func (r *reporter) reusableFor(cfg *config, id identity) bool { return r.cfg.equal(cfg) && r.id == id }

// eventNamespace is where events on ref are written.
func eventNamespace(ref *corev1.ObjectReference) string {
	if ref.Namespace == "" {
		return metav1.NamespaceDefault
	}
	return ref.Namespace
}

// send completes the Pod reference, then records queued lines until asked to stop.
func (r *reporter) send(ctx context.Context, client kubernetes.Interface) {
	defer close(r.senderDone)
	r.completeReference(ctx, client)
	for {
		select {
		case ln := <-r.queue:
			r.record(ln)
		case <-r.stopping:
			for {
				select {
				case ln := <-r.queue:
					r.record(ln)
				default:
					return
				}
			}
		}
	}
}

func (r *reporter) record(ln line) {
	r.recorder.Event(r.ref.Load(), ln.level.eventType(), ln.level.reason(), ln.message)
}

// completeReference looks the Pod UID up when the Downward API did not give it, so that
// kubectl describe pod finds the events. On failure events go out without a UID.
func (r *reporter) completeReference(ctx context.Context, client kubernetes.Interface) {
	defer close(r.refReady)
	if r.refInherited {
		return
	}
	if !r.id.hasPod() {
		log.Warningf("%s or %s is not set: reporting events on namespace %q instead of the CoreDNS Pod",
			envPodName, envNamespace, metav1.NamespaceDefault)
		return
	}
	if r.id.podUID != "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, r.timing.lookupTimeout)
	defer cancel()
	uid, err := lookupPodUID(ctx, client, r.id)
	if err != nil {
		log.Warningf("could not look up the UID of Pod %s/%s, reporting events without it (set %s from the Downward API to avoid the lookup): %v",
			r.id.namespace, r.id.podName, envPodUID, err)
		return
	}
	ref := *r.ref.Load()
	ref.UID = uid
	r.ref.Store(&ref)
}

// writeFatal writes a fatal line's event before returning, since CoreDNS exits right
// after. It bypasses the queue and the correlator, and returns after fatalTimeout at the
// latest, even if the client does not honour its context.
func (r *reporter) writeFatal(msg string) {
	ctx, cancel := context.WithTimeout(context.Background(), r.timing.fatalTimeout)
	defer cancel()
	// A UID lookup still running gets half the time; the write gets the rest.
	select {
	case <-r.refReady:
	case <-time.After(r.timing.fatalTimeout / 2):
	}
	written := make(chan error, 1)
	ev := r.newEvent(levelFatal, msg)
	go func() {
		_, err := r.sink.create(ctx, ev)
		written <- err
	}()
	var err error
	select {
	case err = <-written:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		log.Errorf("could not write the event of a fatal line: %v", err)
	}
}

// newEvent builds an event the way client-go's recorder does.
func (r *reporter) newEvent(lv level, msg string) *corev1.Event {
	ref := r.ref.Load()
	now := metav1.NewTime(r.timing.clock.Now())
	return &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{
			Name:      util.GenerateEventName(ref.Name, now.UnixNano()),
			Namespace: eventNamespace(ref),
		},
		InvolvedObject:      *ref,
		Reason:              lv.reason(),
		Message:             msg,
		FirstTimestamp:      now,
		LastTimestamp:       now,
		Count:               1,
		Type:                lv.eventType(),
		Source:              corev1.EventSource{Component: component, Host: r.id.nodeName},
		ReportingController: component,
		ReportingInstance:   r.id.nodeName,
	}
}

// stop ends the reporter in the background: queued lines are recorded, and what client-go
// holds gets up to flushTimeout to be written before the broadcaster shuts down. The
// listener must no longer be registered. The returned channel closes when all is done.
func (r *reporter) stop() <-chan struct{} {
	r.stopOnce.Do(func() { go r.shutdown() })
	return r.stopped
}

func (r *reporter) shutdown() {
	defer close(r.stopped)
	deadline := time.NewTimer(r.timing.flushTimeout)
	defer deadline.Stop()

	close(r.stopping)
	select {
	case <-r.senderDone:
		// Everything queued is in client-go's hands; a marker behind it tells when the
		// sink has seen it all.
		r.recorder.Event(r.ref.Load(), corev1.EventTypeNormal, flushReason, "flush")
		select {
		case <-r.sink.flushed:
		case <-deadline.C:
		}
	case <-deadline.C:
	}
	r.cancel()
	<-r.senderDone
	r.broadcaster.Shutdown()
}
