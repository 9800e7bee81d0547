// Command runnode is the demo behind `make run NODE=1`: a real single-node Kubernetes
// (package node), CoreDNS as kubeadm installs it with the project's image, the README's
// install on top, then a failing query to each replica and the events they became, as
// `kubectl describe pod` shows them. It keeps the node running until Ctrl-C, and says
// how to reach it; K8S_EVENT_RUN_ONCE=1, or -once, stops after the events are shown.
//
// It needs root and Linux, the node's binaries and the images (the Makefile builds them
// and sets K8S_EVENT_IMAGE and the rest, see node.ImagesFromEnv).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/coredns/k8s_event/internal/devenv"
	"github.com/coredns/k8s_event/internal/devenv/node"
	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func main() {
	once, _ := strconv.ParseBool(os.Getenv("K8S_EVENT_RUN_ONCE"))
	flag.BoolVar(&once, "once", once, "stop after showing the events instead of waiting for Ctrl-C (or set K8S_EVENT_RUN_ONCE=1)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := 0
	n, err := run(ctx, once)
	if err != nil {
		fmt.Fprintln(os.Stderr, "\nFAILED:", err)
		code = 1
	}
	// Signals stay caught until the node is stopped and the host put back.
	signal.Ignore(os.Interrupt, syscall.SIGTERM)
	fmt.Println("\nStopping the node and putting the host back...")
	if err := n.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the node:", err)
		code = 1
	}
	os.Exit(code)
}

func run(ctx context.Context, once bool) (*node.Node, error) {
	paths, err := devenv.FindPaths()
	if err != nil {
		return nil, err
	}
	images, err := node.ImagesFromEnv()
	if err != nil {
		return nil, err
	}
	step("1. A single-node Kubernetes in its own network namespace (containerd, kubelet, kube-proxy, ...)")
	n, err := node.Start(ctx, paths.BinDir, images.All())
	if err != nil {
		return n, err
	}
	step("2. CoreDNS as kubeadm installs it (kubeadm init phase addon coredns): " + images.Stock.Name + ", CoreDNS without the plugin")
	if err := n.KubeadmCoreDNS(ctx, images.Stock.Name); err != nil {
		return n, err
	}
	step("3. The README's install commands, with IMAGE " + images.CoreDNS.Name)
	if err := n.Install(ctx, paths, images.CoreDNS.Name); err != nil {
		return n, err
	}
	d, err := n.AdminClient().AppsV1().Deployments("kube-system").Get(ctx, "coredns", metav1.GetOptions{})
	if err != nil {
		return n, err
	}
	pods, err := n.Pods(ctx, d)
	if err != nil {
		return n, err
	}
	step("4. A query each replica cannot answer: its upstream, the node's address, refuses it")
	for _, p := range pods {
		name := fmt.Sprintf("demo-%d.example.org.", time.Now().UnixNano()%1e6)
		if err := node.InNetNS(func() error { _, _, err := devenv.Query(p.Status.PodIP+":53", name, dns.TypeA); return err }); err != nil {
			return n, err
		}
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		_, err := devenv.WaitEvents(wctx, n.AdminClient(), p.Namespace, p.Name, "event about "+name, func(evs []corev1.Event) bool {
			for _, e := range evs {
				if strings.Contains(e.Message, name) {
					return true
				}
			}
			return false
		})
		cancel()
		if err != nil {
			return n, err
		}
		step("5. kubectl -n kube-system describe pod " + p.Name)
		out, err := n.Kubectl(ctx, "-n", "kube-system", "describe", "pod", p.Name)
		if err != nil {
			return n, err
		}
		fmt.Print(out)
	}
	if once {
		return n, nil
	}
	fmt.Printf("\nThe node keeps running until Ctrl-C. Its programs' logs are in %s; kubectl reaches it from inside its network namespace:\n\n    nsenter --net=%s %s --kubeconfig %s get events -n kube-system\n",
		filepath.Join(n.Dir(), "logs"), node.NetNSPath(), filepath.Join(paths.BinDir, "kubectl"), n.AdminKubeconfig())
	<-ctx.Done()
	return n, nil
}

func step(s string) { fmt.Printf("\n==> %s\n", s) }
