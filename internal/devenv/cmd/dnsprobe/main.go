// Command dnsprobe is the client Pod of the node tests: it resolves each name it is given
// through the Pod's /etc/resolv.conf (kube-dns, with the cluster's search path), retrying
// for up to 30 seconds (a new endpoint can take a second to be programmed), and reports
// "NAME ADDR,..." per name in its termination message. It exits 1 if a name did not
// resolve.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

func main() {
	var report strings.Builder
	code := 0
	for _, name := range os.Args[1:] {
		addrs, err := resolve(name)
		if err != nil {
			code = 1
			fmt.Fprintf(&report, "%s error: %v\n", name, err)
			continue
		}
		fmt.Fprintf(&report, "%s %s\n", name, strings.Join(addrs, ","))
	}
	fmt.Print(report.String())
	os.WriteFile("/dev/termination-log", []byte(report.String()), 0o644)
	os.Exit(code)
}

func resolve(name string) (addrs []string, err error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		addrs, err = net.DefaultResolver.LookupHost(ctx, name)
		cancel()
		if err == nil || time.Now().After(deadline) {
			return addrs, err
		}
		time.Sleep(500 * time.Millisecond)
	}
}
