package devenv

import "syscall"

// sysProcAttr puts a child in its own process group, so that Ctrl-C reaches only the
// program that started it, and has the kernel kill it when that program dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
