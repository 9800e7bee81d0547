package devenv

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// CPUTime is the user and system CPU time that the control plane's process component,
// "kube-apiserver" or "etcd", has used so far (Linux). The process is looked up at each
// call, so that the time is that of the API server running now, after StartAPIServer.
func (cp *ControlPlane) CPUTime(component string) (time.Duration, error) {
	pid, err := findProcess(component, cp.dir)
	if err != nil {
		return 0, err
	}
	return processCPUTime(pid)
}

// findProcess returns the pid of the process whose executable is named name and one of
// whose arguments contains dir: each control plane's etcd and kube-apiserver are given
// paths in the control plane's own directory.
func findProcess(name, dir string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue // gone, or not ours to read
		}
		args := strings.Split(string(bytes.TrimRight(cmdline, "\x00")), "\x00")
		if filepath.Base(args[0]) != name {
			continue
		}
		for _, a := range args[1:] {
			if strings.Contains(a, dir) {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("no %s process with an argument in %s", name, dir)
}

// processCPUTime is the user and system CPU time process pid has used so far (Linux).
func processCPUTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	d, err := parseStatCPU(string(data))
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %v", pid, err)
	}
	return d, nil
}

// parseStatCPU reads utime and stime from the text of /proc/PID/stat: fields 14 and 15,
// counted after the command name, which is in parentheses and may hold spaces.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("no command name in %q", stat)
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("short: %q", stat)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("utime or stime not a number: %q", stat)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil // USER_HZ is 100
}
