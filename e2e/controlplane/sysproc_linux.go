package controlplane

import "syscall"

// sysProcAttr puts a child in its own process group (so Stop can signal the
// whole group) and has the kernel kill it when this process dies.
//
// Pdeathsig fires when the OS thread that started the child exits; the Go
// runtime does not retire threads unless a goroutine exits while locked to
// one, which this package never does.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
