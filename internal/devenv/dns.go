package devenv

import (
	"time"

	"github.com/miekg/dns"
)

// QueryTimeout bounds one query of Query and Exchange.
const QueryTimeout = 2 * time.Second

// Query sends one UDP query for name and type to addr, and returns the answer and its
// round-trip time.
func Query(addr, name string, qtype uint16) (*dns.Msg, time.Duration, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	return Exchange(addr, m)
}

// Exchange sends m over UDP to addr, and returns the answer and its round-trip time.
func Exchange(addr string, m *dns.Msg) (*dns.Msg, time.Duration, error) {
	return (&dns.Client{Net: "udp", Timeout: QueryTimeout}).Exchange(m, addr)
}
