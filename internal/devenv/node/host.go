//go:build linux

package node

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// kubeletSysctls are the kernel settings kubelet sets on start (setupKernelTunables):
// global, not namespaced, so Stop puts back the values they had.
var kubeletSysctls = []string{
	"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes",
}

// CgroupRoot is the node's cgroup under every hierarchy: kubelet's --cgroup-root, under
// which it makes kubepods and runc the Pods' cgroups.
const CgroupRoot = "k8s-event-node"

// watchedDirs are where programs put their state by default (containerd's /opt/containerd
// and /run/containerd, kubelet's /var/lib/kubelet, CNI's /etc/cni): the host check sees
// anything left in these.
var watchedDirs = []string{"/", "/opt", "/etc", "/var/lib", "/var/log", "/run"}

const (
	cgroupFS   = "/sys/fs/cgroup"
	netnsDir   = "/run/netns"
	cniDir     = "/var/lib/cni"
	cniResults = "/var/lib/cni/results"
)

// HostState is what the node may change on the host, read at one moment: compare two
// with Diff. Processes are the running programs the node starts.
type HostState struct {
	Sysctls    map[string]string
	NetNS      []string // names in /run/netns, "" for the directory itself
	Mounts     []string // mount points where the node mounts: its directory, /run/netns
	Cgroups    []string // each first-level cgroup of every hierarchy
	Links      []string // the host's network interfaces
	CNI        []string // entries of /var/lib/cni and its results/
	Processes  []string // node programs running (kubelet, containerd, shims, ...)
	IPTables   []string // the host's iptables chains
	Dirs       []string // the entries of the host's top directories (watchedDirs)
	StateFiles bool     // the node's directory exists
}

// ReadHostState reads the host as the node could change it.
func ReadHostState() HostState {
	s := HostState{Sysctls: map[string]string{}}
	for _, k := range kubeletSysctls {
		v, _ := os.ReadFile(filepath.Join("/proc/sys", k))
		s.Sysctls[k] = strings.TrimSpace(string(v))
	}
	if _, err := os.Stat(netnsDir); err == nil {
		s.NetNS = append(s.NetNS, "")
		s.NetNS = append(s.NetNS, dirNames(netnsDir)...)
	}
	for _, m := range mountPoints() {
		// Only the node's places: other tests on the machine mount and unmount meanwhile.
		if under(m, stateDir()) || under(m, netnsDir) {
			s.Mounts = append(s.Mounts, m)
		}
	}
	for _, root := range cgroupHierarchies() {
		for _, d := range dirNames(root) {
			s.Cgroups = append(s.Cgroups, filepath.Join(root, d))
		}
	}
	out, _ := exec.Command("ip", "-o", "link", "show").Output()
	for l := range strings.Lines(string(out)) {
		if f := strings.Fields(l); len(f) > 1 {
			s.Links = append(s.Links, strings.TrimSuffix(strings.Split(f[1], "@")[0], ":"))
		}
	}
	if _, err := os.Stat(cniDir); err == nil {
		s.CNI = append(s.CNI, "")
		s.CNI = append(s.CNI, dirNames(cniDir)...)
		for _, n := range dirNames(cniResults) {
			s.CNI = append(s.CNI, "results/"+n)
		}
	}
	s.Processes = nodeProcesses()
	for _, dir := range watchedDirs {
		for _, name := range dirNames(dir) {
			s.Dirs = append(s.Dirs, filepath.Join(dir, name))
		}
	}
	out, _ = exec.Command("iptables-save").Output()
	for l := range strings.Lines(string(out)) {
		if strings.HasPrefix(l, ":") {
			s.IPTables = append(s.IPTables, strings.Fields(l)[0])
		}
	}
	_, err := os.Stat(stateDir())
	s.StateFiles = err == nil
	return s
}

// Diff lists, one line each, what differs between s (before) and after.
func (s HostState) Diff(after HostState) []string {
	var d []string
	for _, k := range kubeletSysctls {
		if s.Sysctls[k] != after.Sysctls[k] {
			d = append(d, fmt.Sprintf("sysctl %s: %q, was %q", k, after.Sysctls[k], s.Sysctls[k]))
		}
	}
	list := func(what string, before, now []string) {
		for _, x := range now {
			if !slices.Contains(before, x) {
				d = append(d, fmt.Sprintf("%s added: %q", what, x))
			}
		}
		for _, x := range before {
			if !slices.Contains(now, x) {
				d = append(d, fmt.Sprintf("%s removed: %q", what, x))
			}
		}
	}
	list("network namespace", s.NetNS, after.NetNS)
	list("mount", s.Mounts, after.Mounts)
	list("cgroup", s.Cgroups, after.Cgroups)
	list("network interface", s.Links, after.Links)
	list(cniDir, s.CNI, after.CNI)
	list("process", s.Processes, after.Processes)
	list("iptables chain", s.IPTables, after.IPTables)
	list("file", s.Dirs, after.Dirs)
	if s.StateFiles != after.StateFiles {
		d = append(d, fmt.Sprintf("the node's directory exists: %v, was %v", after.StateFiles, s.StateFiles))
	}
	return d
}

// under tells whether path is dir or below it.
func under(path, dir string) bool { return path == dir || strings.HasPrefix(path, dir+"/") }

func dirNames(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		if e.IsDir() || e.Type()&os.ModeType == 0 {
			names = append(names, e.Name())
		}
	}
	return names
}

// mountPoints are the mount points of the calling thread's mount namespace: the host's,
// as only a locked thread ever enters the node's. /proc/self would be the main thread's.
func mountPoints() []string {
	data, _ := os.ReadFile("/proc/thread-self/mountinfo")
	var points []string
	for l := range strings.Lines(string(data)) {
		if f := strings.Fields(l); len(f) > 4 {
			points = append(points, unescapeMount(f[4]))
		}
	}
	return points
}

func unescapeMount(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}

// nodeProgramNames are the programs a node starts.
var nodeProgramNames = []string{
	"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet",
	"kube-proxy", "containerd", "containerd-shim-runc-v2", "coredns", "pause", "dnsprobe",
}

// nodeProcesses lists "pid name" of the running programs a node starts whose command
// line names the node's directory or that run inside its cgroups or namespace.
func nodeProcesses() []string {
	var procs []string
	for _, pid := range dirNames("/proc") {
		if pid[0] < '0' || pid[0] > '9' {
			continue
		}
		name := programName(pid)
		if !slices.Contains(nodeProgramNames, name) || !ofNode(pid) {
			continue
		}
		procs = append(procs, pid+" "+name)
	}
	return procs
}

// programName is the name of the program process pid runs: the file name of its first
// argument (its comm is cut to 15 characters: containerd-shim-runc-v2 would not match).
func programName(pid string) string {
	cmdline, err := os.ReadFile(filepath.Join("/proc", pid, "cmdline"))
	if err != nil {
		return ""
	}
	argv0, _, _ := strings.Cut(string(cmdline), "\x00")
	return filepath.Base(argv0)
}

// ofNode tells whether process pid belongs to a node: its command line names the node's
// directory, or its cgroup is under CgroupRoot, or it is in the node's network or mount
// namespace.
func ofNode(pid string) bool {
	cmdline, _ := os.ReadFile(filepath.Join("/proc", pid, "cmdline"))
	if strings.Contains(string(cmdline), stateDir()) {
		return true
	}
	cg, _ := os.ReadFile(filepath.Join("/proc", pid, "cgroup"))
	if strings.Contains(string(cg), "/"+CgroupRoot+"/") {
		return true
	}
	return sameNS(netnsPath(), filepath.Join("/proc", pid, "ns/net")) || sameNS(mountNSPath(), filepath.Join("/proc", pid, "ns/mnt"))
}

// sameNS tells whether the namespace files a and b are the same namespace.
func sameNS(a, b string) bool {
	var sa, sb unixStat
	return statIno(a, &sa) == nil && statIno(b, &sb) == nil && sa == sb
}

// restoreHost puts back what the node changed on the host, as recorded in before, once
// its processes are gone: the mounts under the node's directory (those holding its
// namespaces among them), the node's cgroups, CNI's cache, the kernel settings, and
// /var/lib/cni if the node made it. It also removes what a node of an earlier version
// made in /run/netns, which the node no longer touches.
func restoreHost(before HostState) error {
	var errs []error
	for _, name := range dirNames(netnsDir) {
		if !slices.Contains(before.NetNS, name) {
			errs = append(errs, run("ip", "netns", "delete", name))
		}
	}
	errs = append(errs, unmountUnder(stateDir()), removeCgroups())
	for _, n := range dirNames(cniResults) {
		if !slices.Contains(before.CNI, "results/"+n) {
			errs = append(errs, os.Remove(filepath.Join(cniResults, n)))
		}
	}
	for _, dir := range []string{cniResults, cniDir} {
		rel := strings.TrimPrefix(strings.TrimPrefix(dir, cniDir), "/")
		if !slices.Contains(before.CNI, rel) {
			os.Remove(dir) // only when empty: what else is there is not ours
		}
	}
	if !slices.Contains(before.NetNS, "") && len(dirNames(netnsDir)) == 0 {
		errs = append(errs, unmountUnder(netnsDir))
		os.Remove(netnsDir)
	}
	for k, v := range before.Sysctls {
		if v != "" {
			errs = append(errs, os.WriteFile(filepath.Join("/proc/sys", k), []byte(v), 0o644))
		}
	}
	return errors.Join(errs...)
}

func run(name string, args ...string) error {
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return nil
}
