package main

import "encoding/binary"

// paxCapability is the PAX record that carries a file's security.capability extended
// attribute in a layer tar, as GNU tar (--xattrs) and BuildKit write it; containerd and
// runc restore it on unpack, so the file keeps its capability in the container.
const paxCapability = "SCHILY.xattr.security.capability"

// capNetBindService is CAP_NET_BIND_SERVICE, from linux/capability.h: binding ports below
// 1024, port 53 here.
const capNetBindService = 10

// fileCapability is the value of the security.capability attribute that
// `setcap CAP=+ep` writes for capabilities below 32: a struct vfs_cap_data, revision 2
// (linux/capability.h), little endian. Permitted holds the capabilities; the effective
// flag raises them at exec, so an unprivileged process gets them without asking.
// Inheritable stays empty.
func fileCapability(caps ...uint) []byte {
	const (
		vfsCapRevision2      = 0x02000000
		vfsCapFlagsEffective = 0x000001
	)
	var permitted uint32
	for _, c := range caps {
		if c >= 32 {
			panic("fileCapability: only capabilities below 32 are supported")
		}
		permitted |= 1 << c
	}
	// magic_etc, then {permitted, inheritable} for capabilities 0-31 and 32-63.
	b := make([]byte, 20)
	binary.LittleEndian.PutUint32(b[0:], vfsCapRevision2|vfsCapFlagsEffective)
	binary.LittleEndian.PutUint32(b[4:], permitted)
	return b
}
