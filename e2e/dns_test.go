package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// queryTimeout bounds one DNS query of the tests.
const queryTimeout = 2 * time.Second

// exchange sends one UDP query for name and type, and returns the answer and how long
// it took.
func exchange(addr, name string, qtype uint16) (*dns.Msg, time.Duration, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	c := &dns.Client{Net: "udp", Timeout: queryTimeout}
	return c.Exchange(m, addr)
}

// expectRcode sends a query and fails the test unless the answer has rcode.
func expectRcode(t *testing.T, addr, name string, qtype uint16, rcode int) *dns.Msg {
	t.Helper()
	r, _, err := exchange(addr, name, qtype)
	if err != nil {
		t.Fatalf("query %s %s to %s: %v", name, dns.TypeToString[qtype], addr, err)
	}
	if r.Rcode != rcode {
		t.Fatalf("query %s %s to %s: rcode %s, want %s", name, dns.TypeToString[qtype], addr,
			dns.RcodeToString[r.Rcode], dns.RcodeToString[rcode])
	}
	return r
}

// failQuery sends a query that the dead upstream makes fail: CoreDNS answers SERVFAIL
// and its errors plugin logs one line.
func failQuery(t *testing.T, addr, name string) {
	t.Helper()
	expectRcode(t, addr, name, dns.TypeA, dns.RcodeServerFailure)
}

// localAnswer checks that CoreDNS answers name from its local zone (see localZone).
func localAnswer(addr, name string) (time.Duration, error) {
	r, rtt, err := exchange(addr, name, dns.TypeA)
	if err != nil {
		return rtt, err
	}
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		return rtt, fmt.Errorf("query %s: rcode %s with %d answers, want NOERROR with 1", name, dns.RcodeToString[r.Rcode], len(r.Answer))
	}
	if a, ok := r.Answer[0].(*dns.A); !ok || a.A.String() != localZoneIP {
		return rtt, fmt.Errorf("query %s: answer %v, want A %s", name, r.Answer[0], localZoneIP)
	}
	return rtt, nil
}
