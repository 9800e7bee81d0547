package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// corefile is a server block on loopback in which every query fails: forward to a port
// where nothing listens, and errors logs each failure. The same kubeapi in every
// variant; k8s_event only when stanza is not empty. startCoreDNS fills in PORT and
// PPROF.
func corefile(deadPort int, kubeconfig, stanza string) string {
	return fmt.Sprintf(`.:PORT {
    bind 127.0.0.1
    errors
    forward . 127.0.0.1:%d
    kubeapi {
        kubeconfig %s
    }
    %s
    PPROF
}
`, deadPort, kubeconfig, stanza)
}

// coreDNS is a running ./coredns, what it prints counted.
type coreDNS struct {
	name  string
	port  int
	pprof int // port of the pprof plugin
	cmd   *exec.Cmd
	out   *outputCounter
	done  chan struct{}
}

func startCoreDNS(o options, name, contents string, env []string) (*coreDNS, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	contents = strings.Replace(contents, ".:PORT {", fmt.Sprintf(".:%d {", port), 1)
	pprofPort, err := freePort()
	if err != nil {
		return nil, err
	}
	contents = strings.Replace(contents, "PPROF", fmt.Sprintf("pprof 127.0.0.1:%d", pprofPort), 1)
	conf := filepath.Join(o.work, name+".Corefile")
	if err := os.WriteFile(conf, []byte(contents), 0o644); err != nil {
		return nil, err
	}
	c := &coreDNS{name: name, port: port, pprof: pprofPort, out: &outputCounter{}, done: make(chan struct{})}
	c.cmd = exec.Command(o.coredns, "-conf", conf)
	c.cmd.Env = append(os.Environ(), env...)
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	c.cmd.Stdout, c.cmd.Stderr = pw, pw
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = c.cmd.Start()
	pw.Close()
	if err != nil {
		pr.Close()
		return nil, fmt.Errorf("starting %s: %v", o.coredns, err)
	}
	counted := make(chan struct{})
	go func() { c.out.count(pr); pr.Close(); close(counted) }()
	go func() { c.cmd.Wait(); <-counted; close(c.done) }()
	if err := c.waitReady(15 * time.Second); err != nil {
		c.stop()
		return nil, fmt.Errorf("%s: %v; its log:\n%s", name, err, c.out.tail())
	}
	return c, nil
}

// waitReady waits until the server answers a query, with any rcode.
func (c *coreDNS) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &dns.Client{Timeout: 300 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion("ready.example.", dns.TypeA)
	for {
		select {
		case <-c.done:
			return errors.New("exited")
		default:
		}
		if _, _, err := client.Exchange(m, c.addr()); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not answering after %v", timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *coreDNS) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)) }

func (c *coreDNS) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	syscall.Kill(-c.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.done
	}
}

// cpu is the process's user+system CPU time so far, from /proc/PID/stat.
func (c *coreDNS) cpu() (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses: state is field 3.
	i := strings.LastIndexByte(string(data), ')')
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", c.cmd.Process.Pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	const clockTick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	return time.Duration(utime+stime) * clockTick, nil
}

// outputCounter reads what CoreDNS prints, every line of which the errors plugin's
// logged lines are most, and counts the lines that come from k8s_event or client-go's
// event pipeline instead. It keeps the last lines for error messages.
type outputCounter struct {
	mu       sync.Mutex
	plugin   int // lines from k8s_event or client-go since the last take
	samples  []string
	last     [20]string
	lines    int
	reported int // samples already returned
}

func (oc *outputCounter) count(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		own := strings.Contains(l, "k8s_event") || strings.Contains(l, "dropped event")
		oc.mu.Lock()
		oc.last[oc.lines%len(oc.last)] = l
		oc.lines++
		if own {
			oc.plugin++
			if len(oc.samples) < 2 {
				oc.samples = append(oc.samples, l)
			}
		}
		oc.mu.Unlock()
	}
}

// take returns the count of the plugin's lines since the last take, with up to two of
// them.
func (oc *outputCounter) take() (int, []string) {
	oc.mu.Lock()
	defer oc.mu.Unlock()
	n, samples := oc.plugin, oc.samples
	oc.plugin, oc.samples = 0, nil
	return n, samples
}

func (oc *outputCounter) tail() string {
	oc.mu.Lock()
	defer oc.mu.Unlock()
	var b strings.Builder
	for i := max(0, oc.lines-len(oc.last)); i < oc.lines; i++ {
		b.WriteString(oc.last[i%len(oc.last)] + "\n")
	}
	return b.String()
}

// pluginLines counts the lines printed since the last call that come from k8s_event or
// client-go's event pipeline, not from the errors plugin. Lines still in the pipe are
// counted next time.
func (c *coreDNS) pluginLines() (int, []string) { return c.out.take() }

// profile fetches a CPU profile of the server over most of a run of length d into
// work/label.pprof, and sets *path to it. The channel closes when done.
func (c *coreDNS) profile(o options, d time.Duration, label string, path *string) <-chan struct{} {
	done := make(chan struct{})
	secs := max(1, int((d-time.Second)/time.Second))
	go func() {
		defer close(done)
		url := fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=%d", c.pprof, secs)
		resp, err := http.Get(url)
		if err != nil {
			progress("profile of %s: %v", label, err)
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(filepath.Join(o.work, label+".pprof"))
		if err != nil {
			progress("profile of %s: %v", label, err)
			return
		}
		defer f.Close()
		if _, err := io.Copy(f, resp.Body); err == nil {
			*path = f.Name()
		}
	}()
	return done
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// deadUDPPort is a loopback UDP port where nothing listens: queries to it are refused.
// It is taken below the ephemeral range: forward dials the dead port from an ephemeral
// one, and a dead port inside that range is sometimes picked as the source port too,
// giving a socket connected to itself whose queries come back as their own answers.
func deadUDPPort() (int, error) {
	low := 32768
	if data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(data)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				low = n
			}
		}
	}
	for p := low - 1; p >= 1024; p-- {
		c, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		c.Close()
		return p, nil
	}
	return 0, fmt.Errorf("no free UDP port below the ephemeral range (%d)", low)
}
