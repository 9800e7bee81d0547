package k8s_event

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
)

// eventWriter is the part of the Events API the sink calls.
type eventWriter interface {
	CreateWithEventNamespaceWithContext(ctx context.Context, e *corev1.Event) (*corev1.Event, error)
	PatchWithEventNamespaceWithContext(ctx context.Context, e *corev1.Event, data []byte) (*corev1.Event, error)
	UpdateWithEventNamespaceWithContext(ctx context.Context, e *corev1.Event) (*corev1.Event, error)
}

// eventsAPI returns the Events API of client, each call one request: client-go's REST
// client would otherwise send a request the API server answered 429 or 5xx with a
// Retry-After up to 10 times more, Retry-After apart, within the one call the sink sees;
// write retries on its own schedule (at least the Retry-After) and counts every try.
// client-go's fakes have no REST client: their typed client stands in.
func eventsAPI(client kubernetes.Interface) eventWriter {
	if rc, ok := client.CoreV1().RESTClient().(*rest.RESTClient); ok && rc != nil {
		return restEvents{rc}
	}
	return typedEvents{client.CoreV1().Events("")}
}

// typedEvents is the Events API of a client without a REST client: client-go's fakes.
// It calls the methods without a context, which every supported client-go has (those with
// one are newer than client-go v0.31); the fakes ignore the context either way.
type typedEvents struct{ api typedcorev1.EventInterface }

func (t typedEvents) CreateWithEventNamespaceWithContext(_ context.Context, e *corev1.Event) (*corev1.Event, error) {
	return t.api.CreateWithEventNamespace(e)
}

func (t typedEvents) PatchWithEventNamespaceWithContext(_ context.Context, e *corev1.Event, data []byte) (*corev1.Event, error) {
	return t.api.PatchWithEventNamespace(e, data)
}

func (t typedEvents) UpdateWithEventNamespaceWithContext(_ context.Context, e *corev1.Event) (*corev1.Event, error) {
	return t.api.UpdateWithEventNamespace(e)
}

// restEvents makes the Events API calls the sink needs, in the event's namespace, with
// client-go's retries off.
type restEvents struct{ rc *rest.RESTClient }

func (r restEvents) CreateWithEventNamespaceWithContext(ctx context.Context, e *corev1.Event) (*corev1.Event, error) {
	return once(ctx, r.rc.Post().Namespace(e.Namespace).Resource("events").Body(e))
}

func (r restEvents) PatchWithEventNamespaceWithContext(ctx context.Context, e *corev1.Event, data []byte) (*corev1.Event, error) {
	return once(ctx, r.rc.Patch(types.StrategicMergePatchType).Namespace(e.Namespace).Resource("events").Name(e.Name).Body(data))
}

func (r restEvents) UpdateWithEventNamespaceWithContext(ctx context.Context, e *corev1.Event) (*corev1.Event, error) {
	return once(ctx, r.rc.Put().Namespace(e.Namespace).Resource("events").Name(e.Name).Body(e))
}

// once sends req without client-go's retries and decodes the Event answered. The API
// server's warnings go to ctx's logger, the plugin's, as newer client-go's default handler
// sends them; client-go v0.31's prints them through global klog, which the kubernetes
// plugin turns into its own log lines, and so into events.
func once(ctx context.Context, req *rest.Request) (*corev1.Event, error) {
	out := &corev1.Event{}
	err := req.MaxRetries(0).WarningHandler(contextWarnings{ctx}).Do(ctx).Into(out)
	return out, err
}

// contextWarnings prints the API server's warnings (code 299) through the logger of ctx.
type contextWarnings struct{ ctx context.Context }

// HandleWarningHeader implements the rest.WarningHandler interface.
func (w contextWarnings) HandleWarningHeader(code int, _ string, message string) {
	if code != 299 || message == "" {
		return
	}
	klog.FromContext(w.ctx).Info("Warning: " + message)
}
