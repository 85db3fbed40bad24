package core

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The accept path uses raw syscalls into a stack sockaddr: x/sys/unix's
// Accept4 and Getsockname allocate a Sockaddr per call, garbage that at
// thousands of connections per second costs GC time and RSS.

// accept4 accepts one connection, non-blocking and close-on-exec.
func accept4(fd int) (int, sockAddr, unix.Errno) {
	var rsa unix.RawSockaddrAny
	n := uint32(unix.SizeofSockaddrAny)
	nfd, _, e := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(&rsa)),
		uintptr(unsafe.Pointer(&n)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if e != 0 {
		return -1, sockAddr{}, e
	}
	return int(nfd), rawSockAddr(&rsa), 0
}

// sockName is the local address of fd (zero on error).
func sockName(fd int) sockAddr {
	var rsa unix.RawSockaddrAny
	n := uint32(unix.SizeofSockaddrAny)
	_, _, e := unix.RawSyscall(unix.SYS_GETSOCKNAME, uintptr(fd), uintptr(unsafe.Pointer(&rsa)),
		uintptr(unsafe.Pointer(&n)))
	if e != 0 {
		return sockAddr{}
	}
	return rawSockAddr(&rsa)
}

func rawSockAddr(rsa *unix.RawSockaddrAny) sockAddr {
	var a sockAddr
	switch rsa.Addr.Family {
	case unix.AF_INET:
		p := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		a.kind = 4
		copy(a.ip[:4], p.Addr[:])
		a.port = portOf(p.Port)
	case unix.AF_INET6:
		p := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		a.kind = 6
		a.ip = p.Addr
		a.port = portOf(p.Port)
	}
	return a
}

// portOf converts a port in network byte order as the kernel stores it.
func portOf(p uint16) uint16 {
	var b [2]byte
	*(*uint16)(unsafe.Pointer(&b[0])) = p
	return binary.BigEndian.Uint16(b[:])
}
