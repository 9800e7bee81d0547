//go:build tools

// Package tools records the commands this module builds (see tools/build.sh): the
// control plane of `make run` and the end-to-end tests, and the node (kubelet,
// scheduler, controller-manager, kube-proxy) and kubeadm of the node tests.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubeadm"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
