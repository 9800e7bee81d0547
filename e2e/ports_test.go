package e2e

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
)

// Ports are picked below the kernel's ephemeral range, so that no client socket of the
// tests (or of CoreDNS) takes one between the check here and CoreDNS binding it.
const (
	lowestPort        = 10000
	defaultEphemLower = 32768
)

var ports struct {
	sync.Mutex
	given map[int]bool // never hand the same port out twice in one run
}

// freePort returns a loopback port that is free for both UDP and TCP, and that no other
// test of this run has been given.
func freePort(t *testing.T) int {
	t.Helper()
	ports.Lock()
	defer ports.Unlock()
	if ports.given == nil {
		ports.given = map[int]bool{}
	}
	upper := ephemeralLower()
	for range 1000 {
		p := lowestPort + rand.IntN(upper-lowestPort)
		if ports.given[p] || !portFree(p) {
			continue
		}
		ports.given[p] = true
		return p
	}
	t.Fatalf("no free loopback port found in [%d, %d)", lowestPort, upper)
	return 0
}

func portFree(p int) bool {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
	u, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	defer u.Close()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// ephemeralLower is the lowest port the kernel hands to unbound sockets.
func ephemeralLower() int {
	var lo, hi int
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		_, err = fmt.Sscan(string(data), &lo, &hi)
	}
	if err != nil || lo <= lowestPort+1000 {
		return defaultEphemLower
	}
	return lo
}

// loopbackAddr is 127.0.0.1:port.
func loopbackAddr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// portOf is the port of a host:port address.
func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}
