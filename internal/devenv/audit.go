package devenv

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"time"
)

// AuditEvent is the part of an audit log entry the harness reads: one request on Events,
// or of a ServiceAccount. ObjectRef is empty for a request that is not on a resource
// (such as /version).
type AuditEvent struct {
	Stage      string    `json:"stage"`
	Received   time.Time `json:"requestReceivedTimestamp"`
	Verb       string    `json:"verb"`
	RequestURI string    `json:"requestURI"`
	User       struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef struct {
		APIGroup    string `json:"apiGroup"`
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
	} `json:"objectRef"`
	ResponseStatus struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
}

// AuditEvents reads the audit log: the requests on Events, and those of ServiceAccounts,
// answered so far (stage ResponseComplete). The API server may write an entry just after its answer.
func (cp *ControlPlane) AuditEvents() ([]AuditEvent, error) {
	f, err := os.Open(cp.AuditLogPath())
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var evs []AuditEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var e AuditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, err
		}
		if e.Stage == "ResponseComplete" {
			evs = append(evs, e)
		}
	}
	return evs, sc.Err()
}

// Retry is a request that followed one or more 429 answers in a row.
type Retry struct {
	Wait     time.Duration // since the request answered by the last of those 429s
	Refusals int           // the 429s in a row before it
}

// RetriesAfter429 returns the retries among reqs, the requests of one writer of one event
// at a time (k8s_event's sink): in the order received, a request that follows 429s is
// their retry.
func RetriesAfter429(reqs []AuditEvent) []Retry {
	reqs = slices.SortedStableFunc(slices.Values(reqs), func(x, y AuditEvent) int { return x.Received.Compare(y.Received) })
	var retries []Retry
	refusals := 0
	for i, e := range reqs {
		if refusals > 0 {
			retries = append(retries, Retry{Wait: e.Received.Sub(reqs[i-1].Received), Refusals: refusals})
		}
		if e.ResponseStatus.Code == http.StatusTooManyRequests {
			refusals++
		} else {
			refusals = 0
		}
	}
	return retries
}

// Early reports whether r came sooner than k8s_event's retry schedule allows (README,
// "When the API server fails"): 1 s after the first refusal of a write, doubling up to
// 30 s. Both times are the API server's, and the plugin's wait starts only once the
// refusal reached it, so a retry on schedule is never early.
func (r Retry) Early() bool {
	least := time.Second
	for i := 1; i < r.Refusals && least < 30*time.Second; i++ {
		least *= 2
	}
	return r.Wait < min(least, 30*time.Second)
}
