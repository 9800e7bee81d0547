package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coredns/k8s_event/e2e/controlplane"
	corev1 "k8s.io/api/core/v1"
)

// auditEntry is the part of an API server audit event the tests read.
type auditEntry struct {
	Stage           string    `json:"stage"`
	RequestReceived time.Time `json:"requestReceivedTimestamp"`
	Verb            string    `json:"verb"`
	User            struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		Resource  string `json:"resource"`
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
}

// eventWrites counts what the audit log holds about CoreDNS writing the Pod's events.
type eventWrites struct {
	byVerb  map[string]int // completed writes by verb, whatever their result
	denied  int            // of those, refused with 403 Forbidden
	allowed int            // of those, with a 2xx status
}

func (w eventWrites) total() int {
	n := 0
	for _, c := range w.byVerb {
		n += c
	}
	return n
}

// auditEventWrites reads the audit log for the event writes (create, update, patch) of
// the CoreDNS identity on the Pod's events, recognised by their names, which client-go
// derives from the Pod name ("NAME.HEX"). A create refused by authorization has no name
// in the log: count those with auditEventWritesSince.
func auditEventWrites(t *testing.T, pod *corev1.Pod) eventWrites {
	t.Helper()
	return readAudit(t, func(e *auditEntry) bool {
		return e.ObjectRef.Namespace == pod.Namespace && strings.HasPrefix(e.ObjectRef.Name, pod.Name+".")
	})
}

// auditEventWritesSince counts every event write of the CoreDNS identity, whatever the
// event, received at since or later: only for tests that run alone.
func auditEventWritesSince(t *testing.T, since time.Time) eventWrites {
	t.Helper()
	return readAudit(t, func(e *auditEntry) bool { return !e.RequestReceived.Before(since) })
}

func readAudit(t *testing.T, keep func(*auditEntry) bool) eventWrites {
	t.Helper()
	f, err := os.Open(suite.cp.AuditLogPath())
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	defer f.Close()
	w := eventWrites{byVerb: map[string]int{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		var e auditEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit log line %q: %v", sc.Text(), err)
		}
		if e.Stage != "ResponseComplete" || e.User.Username != controlplane.CoreDNSUser ||
			e.ObjectRef == nil || e.ObjectRef.Resource != "events" || !keep(&e) {
			continue
		}
		switch e.Verb {
		case "create", "update", "patch":
		default:
			continue
		}
		w.byVerb[e.Verb]++
		if e.ResponseStatus != nil {
			switch code := e.ResponseStatus.Code; {
			case code == 403:
				w.denied++
			case code >= 200 && code < 300:
				w.allowed++
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("audit log: %v", err)
	}
	return w
}

// auditSettle bounds the wait for the audit log to catch up: the API server may write
// a request's entry just after it answered it.
const auditSettle = 10 * time.Second

// waitAudit rereads the audit log, with read, until it holds at least want writes, and
// returns the last reading (which the caller checks, it may hold more).
func waitAudit(t *testing.T, want int, read func() eventWrites) eventWrites {
	t.Helper()
	var w eventWrites
	for deadline := time.Now().Add(auditSettle); ; time.Sleep(100 * time.Millisecond) {
		if w = read(); w.total() >= want || time.Now().After(deadline) {
			return w
		}
	}
}
