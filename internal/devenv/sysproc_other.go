//go:build !linux

package devenv

import "syscall"

// sysProcAttr puts a child in its own process group. Only Linux can also tie the
// child's life to its parent's.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
