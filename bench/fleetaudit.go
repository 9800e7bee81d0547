package main

import (
	"strings"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
)

// fleetAudit is what the API server's audit log shows of a fleet's Event writes.
type fleetAudit struct {
	requests, writes, tooMany, otherErrors int
	// unnamed are the fleet's creates whose entry names no Event, of them, unnamedTooMany
	// were answered 429: API Priority and Fairness refuses a request before its body is
	// read, so a create it refuses (queue full, or too long in the queue) names no object.
	// They count in requests and tooMany, but no replica's.
	unnamed, unnamedTooMany int
	perReplica              map[string]*replicaAudit
	peakPerSecond           int           // most successful writes received within one second
	firstWrite, lastWrite   time.Time     // of the successful writes
	retries                 int           // requests that followed a 429 of the same replica
	early                   int           // of those, sent sooner than the schedule allows
	shortestRetry           time.Duration // shortest wait from a 429 to the retry; 0 for none
	retrying                int           // replicas that retried after a 429
	mostTogether            int           // most replicas retrying within togetherWindow
}

// replicaAudit is one replica's share of a fleetAudit.
type replicaAudit struct{ requests, writes, tooMany int }

// fleetUser is the user every replica's requests are made as: the coredns ServiceAccount,
// as a Deployment's replicas share it.
var fleetUser = devenv.ServiceAccountUser(devenv.CoreDNSNamespace, "coredns")

// auditFleet reads the requests on Events that the replicas, the Pods named in pods,
// made as fleetUser: an event's name starts with its Pod's name and a dot (client-go names
// them so), and the plugin writes one event at a time, so each replica's requests, in the
// order received, are its writes and their retries (devenv.RetriesAfter429). The
// EventRateLimit plugin's 429 has no Retry-After, so a retry is early if it beats the
// backoff schedule. A create of fleetUser's that names no Event is counted as unnamed.
func auditFleet(evs []devenv.AuditEvent, pods []string) fleetAudit {
	a := fleetAudit{perReplica: map[string]*replicaAudit{}}
	byPod := map[string][]devenv.AuditEvent{}
	for _, e := range evs {
		ref := e.ObjectRef
		if ref.Resource != "events" || ref.APIGroup != "" || ref.Namespace != devenv.CoreDNSNamespace ||
			(e.Verb != "create" && e.Verb != "patch" && e.Verb != "update") {
			continue
		}
		if ref.Name == "" && e.Verb == "create" && e.User.Username == fleetUser {
			a.unnamed++
			if e.ResponseStatus.Code == 429 {
				a.unnamedTooMany++
			}
			continue
		}
		for _, p := range pods {
			if strings.HasPrefix(ref.Name, p+".") {
				byPod[p] = append(byPod[p], e)
				break
			}
		}
	}
	perSecond := map[int64]int{}
	var together []retryTogether
	for _, p := range pods {
		reqs := byPod[p]
		ra := &replicaAudit{}
		a.perReplica[p] = ra
		for _, r := range devenv.RetriesAfter429(reqs) {
			a.retries++
			if r.Early() {
				a.early++
			}
			if a.shortestRetry == 0 || r.Wait < a.shortestRetry {
				a.shortestRetry = r.Wait
			}
		}
		instants := retryInstants(reqs)
		for _, at := range instants {
			together = append(together, retryTogether{at: at, pod: p})
		}
		if len(instants) > 0 {
			a.retrying++
		}
		for _, e := range reqs {
			ra.requests++
			switch code := e.ResponseStatus.Code; {
			case code >= 200 && code < 300:
				ra.writes++
				perSecond[e.Received.Unix()]++
				if a.firstWrite.IsZero() || e.Received.Before(a.firstWrite) {
					a.firstWrite = e.Received
				}
				if e.Received.After(a.lastWrite) {
					a.lastWrite = e.Received
				}
			case code == 429:
				ra.tooMany++
			default:
				a.otherErrors++
			}
		}
		a.requests += ra.requests
		a.writes += ra.writes
		a.tooMany += ra.tooMany
	}
	a.requests += a.unnamed
	a.tooMany += a.unnamedTooMany
	a.otherErrors += a.unnamed - a.unnamedTooMany
	for _, n := range perSecond {
		a.peakPerSecond = max(a.peakPerSecond, n)
	}
	a.mostTogether = mostTogether(together)
	return a
}

// meanPerSecond is the successful writes per second from the first to the last.
func (a fleetAudit) meanPerSecond() float64 {
	d := a.lastWrite.Sub(a.firstWrite).Seconds()
	if d < 1 {
		return float64(a.writes)
	}
	return float64(a.writes) / d
}
