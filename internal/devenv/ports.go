package devenv

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
)

// lowestPort and the kernel's ephemeral range bound FreePort: below that range no
// client socket (of the caller, or of CoreDNS dialing an upstream) takes the port
// between the check and its use, and none connects to itself.
const lowestPort = 10000

var given = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// FreePort returns a loopback port free for both UDP and TCP a moment ago, below the
// ephemeral range, and never returned before by this process: a port for a server to
// listen on, or for a forward to where nothing listens.
func FreePort() (int, error) {
	given.Lock()
	defer given.Unlock()
	upper := ephemeralLower()
	for range 1000 {
		p := lowestPort + rand.IntN(upper-lowestPort)
		if !given.ports[p] && portFree(p) {
			given.ports[p] = true
			return p, nil
		}
	}
	return 0, fmt.Errorf("no free loopback port in [%d, %d)", lowestPort, upper)
}

func portFree(p int) bool {
	u, err := net.ListenPacket("udp", Loopback(p))
	if err != nil {
		return false
	}
	defer u.Close()
	l, err := net.Listen("tcp", Loopback(p))
	if err != nil {
		return false
	}
	return l.Close() == nil
}

// ephemeralLower is the lowest port the kernel gives unbound sockets.
func ephemeralLower() int {
	var lo, hi int
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		_, err = fmt.Sscan(string(data), &lo, &hi)
	}
	if err != nil || lo <= lowestPort+1000 {
		return 32768
	}
	return lo
}

// Loopback is the address 127.0.0.1:port.
func Loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
