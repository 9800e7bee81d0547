//go:build unix && !linux

package main

import "syscall"

// sysProcAttr puts CoreDNS in its own process group, so that Ctrl-C reaches the demo
// alone and the demo decides the order of the shutdown.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
