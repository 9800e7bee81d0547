package k8s_event

import (
	"errors"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	restclient "k8s.io/client-go/rest"
)

// transient reports whether an Events API failure is worth retrying: the API server is
// overloaded, restarting or unreachable (429, 500, 502, 503, 504, timeouts, connection
// errors). Any other answer of the API (400, 403, 404, 409, 422, ...) is final.
func transient(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		var construction *restclient.RequestConstructionError
		return !errors.As(err, &construction)
	}
	switch status.Status().Code {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// maxAuthRetries bounds the retries of a 401 or 403 answered right after the API server
// was unreachable (see failures).
const maxAuthRetries = 5

// failures is what one write has met so far, to tell whether its latest failure is
// worth another try: a transient one always is. A 401 or 403 is too, a few times, right
// after the API server was unreachable: a starting API server refuses requests until
// its authenticators and authorizers are ready.
type failures struct {
	unreachable bool // a try found no API server to answer (no client yet, a connection error)
	refusals    int  // 401s and 403s so far
	mayBeStored bool // a try that failed may have been carried out (see mayHaveLanded)
}

// retryable records err, the latest failure, and tells whether to try again.
func (f *failures) retryable(err error) bool {
	refusal := apierrors.IsUnauthorized(err) || apierrors.IsForbidden(err)
	retry := transient(err) || (refusal && f.unreachable && f.refusals < maxAuthRetries)
	if refusal {
		f.refusals++
	}
	f.unreachable = f.unreachable || !isStatus(err)
	f.mayBeStored = f.mayBeStored || mayHaveLanded(err)
	return retry
}

// ownEvent reports whether err, the answer to a create, says that the event exists
// because an earlier try of the same create was stored. client-go's recorder names an
// event after its object and the nanosecond it made it, so nothing else has its name:
// a 409 AlreadyExists after a try that may have been stored is that try's event. On a
// first try, or after answers that say the server did not take the request, the name
// is another event's, and the line is refused.
func (f *failures) ownEvent(err error) bool {
	return f.mayBeStored && apierrors.IsAlreadyExists(err)
}

// mayHaveLanded reports whether a failed try may have been stored anyway: the request
// went out and no answer says the server refused it. No answer came (a timeout, a
// dropped connection), or a 5xx, which a server or a proxy in front of it may send
// after the write was made.
func mayHaveLanded(err error) bool {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return status.Status().Code >= http.StatusInternalServerError
	}
	var construction *restclient.RequestConstructionError
	return !errors.As(err, &construction) && !utilnet.IsConnectionRefused(err)
}

// isStatus reports whether err is an answer of the API server.
func isStatus(err error) bool {
	var status apierrors.APIStatus
	return errors.As(err, &status)
}

// finalError returns err as an error client-go's recorder gives up on at once (an API
// status), since the sink already retried it: client-go would otherwise retry it 12
// times more, the line counted once already.
func finalError(err error) error {
	if err == nil {
		return nil
	}
	var status *apierrors.StatusError
	if errors.As(err, &status) {
		return status
	}
	var construction *restclient.RequestConstructionError
	if errors.As(err, &construction) {
		return construction
	}
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusServiceUnavailable,
		Reason:  metav1.StatusReasonServiceUnavailable,
		Message: err.Error(),
	}}
}
