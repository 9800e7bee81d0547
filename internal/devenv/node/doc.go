// Package node runs a real single-node Kubernetes for the node tests and `make run NODE=1`:
// etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy and
// containerd (with runc and the CNI bridge plugin), built or installed by the Makefile.
//
// Everything runs inside a network namespace of its own, held by a file of the node's
// directory (NetNSPath): the node's bridge, its routes and every iptables rule that
// kubelet and kube-proxy write live and die with it, and the namespace has no route off
// the machine, so no packet a test causes can leave it.
// The test process reaches the node through Dial and InNetNS, and commands through
// Command (nsenter).
//
// Everything runs inside a mount namespace of its own as well, held by a file of the
// node's directory: the paths the kubelet, containerd and CNI write whatever their flags
// say (/var/lib/kubelet, /var/log/containers, /run/containerd, /etc/cni, ...) are the
// node's own directories there, the Pods' volumes and root filesystems are mounted there
// only, and what a program adds to /var/lib, /var/log, /run, /etc or /opt stays there, so
// none of it reaches the host. Command enters both namespaces.
//
// What the node changes outside its directory is recorded before it starts and put back
// by Stop, also after a failed start: the kernel settings kubelet sets, the cgroups under
// CgroupRoot, the network namespace, the mounts holding the namespaces. Start cleans up what
// a run that was killed left behind; Leftovers lists anything still there, for the test
// that checks it.
package node
