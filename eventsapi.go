package k8s_event

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
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
	return client.CoreV1().Events("")
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

// once sends req without client-go's retries and decodes the Event answered.
func once(ctx context.Context, req *rest.Request) (*corev1.Event, error) {
	out := &corev1.Event{}
	err := req.MaxRetries(0).Do(ctx).Into(out)
	return out, err
}
