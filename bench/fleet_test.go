package main

import (
	"strings"
	"testing"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
)

// auditEvent is an audit log entry of a request on an Event in kube-system, by fleetUser.
func auditEvent(at time.Time, verb, name string, code int) devenv.AuditEvent {
	var e devenv.AuditEvent
	e.Received, e.Verb, e.ResponseStatus.Code, e.User.Username = at, verb, code, fleetUser
	e.ObjectRef.Resource, e.ObjectRef.Namespace, e.ObjectRef.Name = "events", devenv.CoreDNSNamespace, name
	return e
}

func TestAuditFleet(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	other := auditEvent(at(0.2), "create", "fleet-2-00.1", 201)
	other.ObjectRef.Namespace = "default"
	othersUnnamed := auditEvent(at(0.4), "create", "", 429)
	othersUnnamed.User.Username = "system:serviceaccount:kube-system:deployment-controller"
	evs := []devenv.AuditEvent{
		auditEvent(at(0.4), "create", "", 429), // refused by APF before its body was read
		auditEvent(at(0.4), "create", "", 504), // timed out
		othersUnnamed,
		// Out of order, as the log may hold them: sorted by time per replica.
		auditEvent(at(1.8), "create", "fleet-2-00.2", 201), // 0.5 s after the 2nd 429 in a row: early (2 s due)
		auditEvent(at(0.1), "create", "fleet-2-00.1", 201),
		auditEvent(at(1.3), "create", "fleet-2-00.2", 429), // 1 s after a first 429: on time
		auditEvent(at(0.3), "create", "fleet-2-00.2", 429),
		auditEvent(at(0.5), "patch", "fleet-2-01.9", 200),
		auditEvent(at(0.6), "patch", "fleet-2-01.9", 429),
		auditEvent(at(1.6), "patch", "fleet-2-01.9", 200),   // 1 s after a first 429: on time
		auditEvent(at(0.7), "get", "fleet-2-01.9", 200),     // not a write
		auditEvent(at(0.8), "create", "fleet-20-00.1", 201), // another fleet's Pod
		other,
	}
	a := auditFleet(evs, []string{"fleet-2-00", "fleet-2-01"})
	if a.requests != 9 || a.writes != 4 || a.tooMany != 4 || a.otherErrors != 1 || a.unnamed != 2 || a.unnamedTooMany != 1 {
		t.Errorf("requests %d, writes %d, 429s %d, other errors %d, unnamed %d (429: %d); want 9, 4, 4, 1, 2 (1)",
			a.requests, a.writes, a.tooMany, a.otherErrors, a.unnamed, a.unnamedTooMany)
	}
	if a.retries != 3 || a.early != 1 || a.shortestRetry != 500*time.Millisecond {
		t.Errorf("retries %d, early %d, shortest %v; want 3, 1, 500ms", a.retries, a.early, a.shortestRetry)
	}
	if r := a.perReplica["fleet-2-01"]; r == nil || r.requests != 3 || r.writes != 2 || r.tooMany != 1 {
		t.Errorf("fleet-2-01: %+v", r)
	}
	if a.peakPerSecond != 2 || !a.firstWrite.Equal(at(0.1)) || !a.lastWrite.Equal(at(1.8)) {
		t.Errorf("peak %d/s, writes from %v to %v", a.peakPerSecond, a.firstWrite, a.lastWrite)
	}
	if got := a.meanPerSecond(); got != 4/1.7 {
		t.Errorf("meanPerSecond = %v, want %v", got, 4/1.7)
	}
	// Retries received at 1.3 and 1.8 s (fleet-2-00) and 1.6 s (fleet-2-01): none within
	// 100 ms of another replica's.
	if a.retrying != 2 || a.mostTogether != 1 {
		t.Errorf("replicas retrying %d, most within 100 ms %d; want 2, 1", a.retrying, a.mostTogether)
	}
}

// Replicas are counted once per window, and a retry 100 ms after the first of a window
// is not in it.
func TestMostTogether(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	retries := []retryTogether{
		{at(300), "f"}, {at(0), "a"}, {at(50), "a"}, {at(60), "b"},
		{at(200), "c"}, {at(250), "d"}, {at(299), "e"},
	}
	if got := mostTogether(retries); got != 3 {
		t.Errorf("mostTogether = %d, want 3 (c, d and e within 100 ms of 200 ms; a twice and b is 2)", got)
	}
	if got := mostTogether(nil); got != 0 {
		t.Errorf("mostTogether(nil) = %d, want 0", got)
	}
}

func TestBucketsSeen(t *testing.T) {
	var b bucketsSeen
	for _, l := range []string{
		"[ERROR] plugin/errors: 2 q0.r0.fleet.example. A: read udp: connection refused",
		"[ERROR] plugin/errors: 2 q1.r0.fleet.example. A: read udp: connection refused",
		"[WARNING] plugin/forward: no healthy upstream",
		"[WARNING] plugin/k8s_event: event delivery: retrying", // never reported
		"[INFO] plugin/reload: Running configuration",          // not a default level
		"[WARNING] a line of a logger that is no plugin",
		"CoreDNS-1.15.0",
	} {
		b.see(l)
	}
	if got := b.count(); got != 3 {
		t.Errorf("count = %d, want 3 (errors, forward, other)", got)
	}
}

func TestReplicaBound(t *testing.T) {
	rate, err := parsePluginRate("1/300,25")
	if err != nil || rate.qps != 1.0/300 || rate.burst != 25 || rate.String() != "rate 1/300 25" {
		t.Fatalf("parsePluginRate = %+v, %v", rate, err)
	}
	r := &replica{started: time.Now().Add(-601 * time.Second), rate: rate}
	r.buckets.see("[ERROR] plugin/errors: x")
	r.buckets.see("[WARNING] plugin/forward: y")
	if got := r.bound(time.Now()); got != 2*(25+2) {
		t.Errorf("bound after 601 s, two buckets = %d, want %d", got, 2*(25+2))
	}
	for _, bad := range []string{"1/300", "0,25", "1/0,25", "x,25", "1,0", "0.5,x"} {
		if _, err := parsePluginRate(bad); err == nil {
			t.Errorf("parsePluginRate(%q) accepted", bad)
		}
	}
}

func TestParseInts(t *testing.T) {
	if v, err := parseInts("1, 5,20"); err != nil || len(v) != 3 || v[2] != 20 {
		t.Errorf("parseInts = %v, %v", v, err)
	}
	for _, bad := range []string{"", "1,,2", "0", "-3", "x"} {
		if _, err := parseInts(bad); err == nil {
			t.Errorf("parseInts(%q) accepted", bad)
		}
	}
}

func TestPrintMarkdown(t *testing.T) {
	var b strings.Builder
	printMarkdown(&b, [][]string{{"a", "≤ b"}, {"long cell", "x"}})
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || lines[0] != "| a         | ≤ b |" || lines[2] != "| long cell | x   |" {
		t.Errorf("table:\n%s", b.String())
	}
}
