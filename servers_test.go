package k8s_event

import (
	"encoding/binary"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/coredns/caddy"
)

// The in-process CoreDNS instances of the tests get no traffic, which exposes two races
// of caddy's reload machinery that production, where queries keep coming, hardly sees.
// Neither involves k8s_event:
//
//   - caddy starts a server's TCP and UDP loops in goroutines of its own. CoreDNS's
//     Server.Stop skips a loop that has not started yet, which then starts and serves
//     for ever, on a copy of the socket the next instance serves on. A reload right
//     after a start or another reload, on a loaded machine, leaves such servers behind:
//     serving waits until every loop answers, so that a test stops only what serves.
//   - a reload hands the running sockets to the new instance through File and
//     net.FileListener/FilePacketConn, which put the socket, shared with the running
//     instance, in blocking mode until the copy is made (Go issue 29277). A read or
//     accept of the running instance that starts then waits in the kernel for a packet
//     or a connection; stopping that instance waits for it, for ever if none comes.
//     wake sends some while a reload or a stop runs, as clients would.

// serving waits until every server of inst answers a DNS query over UDP and over TCP.
func serving(t testing.TB, inst *caddy.Instance) {
	t.Helper()
	for _, s := range inst.Servers() {
		for _, a := range []struct {
			network string
			addr    net.Addr
		}{{"udp", s.LocalAddr()}, {"tcp", s.Addr()}} { // caddy's names: LocalAddr is the packet conn's
			if a.addr == nil {
				continue
			}
			deadline := time.Now().Add(hangAfter)
			for err := query(a.network, a.addr); err != nil; err = query(a.network, a.addr) {
				if time.Now().After(deadline) {
					t.Fatalf("the server at %s %s does not answer after %v: %v", a.network, a.addr, hangAfter, err)
				}
			}
		}
	}
}

// wake sends a DNS query over UDP and over TCP to every server of inst every wakeEvery
// until the func it returns is called.
func wake(inst *caddy.Instance) (stop func()) {
	const wakeEvery = 200 * time.Millisecond
	servers := inst.Servers()
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(wakeEvery):
			}
			for _, s := range servers {
				if s.LocalAddr() != nil { // the packet conn's
					query("udp", s.LocalAddr())
				}
				if s.Addr() != nil { // the listener's
					query("tcp", s.Addr())
				}
			}
		}
	}()
	return func() { close(done) }
}

// query sends a DNS query to the loopback port of addr over network ("udp" or "tcp"),
// and returns nil once an answer came, within 200 ms.
func query(network string, addr net.Addr) error {
	_, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return err
	}
	conn, err := net.DialTimeout(network, net.JoinHostPort("127.0.0.1", port), 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(200 * time.Millisecond))
	msg := exampleQuery
	if network == "tcp" {
		msg = append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...)
	}
	if _, err := conn.Write(msg); err != nil {
		return err
	}
	answer := make([]byte, 512)
	n, err := conn.Read(answer)
	if err != nil {
		return err
	}
	if n < 2 {
		return fmt.Errorf("an answer of %d bytes", n)
	}
	return nil
}

// exampleQuery is a DNS query for example.org. A, id 1, recursion desired.
var exampleQuery = []byte{0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'o', 'r', 'g', 0, 0, 1, 0, 1}
