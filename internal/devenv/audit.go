package devenv

import (
	"bufio"
	"encoding/json"
	"os"
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
