package main

import "syscall"

// sysProcAttr has the kernel kill CoreDNS if the demo dies without stopping it, and puts
// it in its own process group, so that Ctrl-C reaches the demo alone and the demo
// decides the order of the shutdown.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
