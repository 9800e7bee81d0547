package main

import (
	"context"
	"fmt"
	"time"

	"github.com/miekg/dns"
)

// waitDNS queries CoreDNS until it answers. The query asks for EDNS version 1, which
// CoreDNS answers with BADVERS before any plugin runs: the probe proves CoreDNS serves
// DNS without logging a line. An ordinary query would fail upstream and be logged, and
// become an event; so would a CHAOS-class one, which forward lets through.
func waitDNS(ctx context.Context, c *coreDNS, addr string, timeout time.Duration) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	q := new(dns.Msg)
	q.SetQuestion("probe.invalid.", dns.TypeA)
	q.SetEdns0(dns.MinMsgSize, false)
	q.IsEdns0().SetVersion(1)
	client := &dns.Client{Net: "udp", Timeout: 500 * time.Millisecond}
	var last error
	for {
		r, _, err := client.ExchangeContext(ctx, q, addr)
		if err == nil {
			return r, nil
		}
		last = err
		select {
		case <-c.done:
			return nil, fmt.Errorf("CoreDNS exited (%s) before it answered DNS", c.exitStatus())
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return nil, fmt.Errorf("CoreDNS did not answer DNS on %s within %v (last: %v)", addr, timeout, last)
			}
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// query sends one query of type qtype for name and returns the answer.
func query(ctx context.Context, addr, name string, qtype uint16) (*dns.Msg, time.Duration, error) {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	client := &dns.Client{Net: "udp", Timeout: 10 * time.Second}
	return client.ExchangeContext(ctx, q, addr)
}

// rcodeName names an rcode, extended ones included (16 is BADVERS in an answer).
func rcodeName(rcode int) string {
	if rcode == dns.RcodeBadVers {
		return "BADVERS"
	}
	if s, ok := dns.RcodeToString[rcode]; ok {
		return s
	}
	return fmt.Sprintf("rcode %d", rcode)
}
