package k8s_event

import (
	"errors"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	restclient "k8s.io/client-go/rest"
)

var errNoClient = errors.New("no connection to the Kubernetes API yet (kubeapi has not started)")

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
// was unreachable (see write).
const maxAuthRetries = 5

// startingUp reports whether err is an answer a starting API server gives before its
// authentication and authorization are ready.
func startingUp(err error) bool {
	return apierrors.IsUnauthorized(err) || apierrors.IsForbidden(err)
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
