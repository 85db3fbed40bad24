package core

import (
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Raw read/send wrappers: no allocation, errno returned as is, and
// MSG_NOSIGNAL so that a peer reset never raises SIGPIPE.

// sysRead and sysSend are only used on non-blocking sockets: they never
// block, so the raw syscalls skip the scheduler hand-off of unix.Syscall
// (entersyscall/exitsyscall were ~14 % of the keep-alive user time).
func sysRead(fd int, p []byte) (int, unix.Errno) {
	if len(p) == 0 {
		return 0, 0
	}
	r, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return -1, e
	}
	return int(r), 0
}

func sysSend(fd int, p []byte) (int, unix.Errno) {
	return sysSendFlags(fd, p, 0)
}

// sysSendFlags is sysSend with extra MSG_* flags.
func sysSendFlags(fd int, p []byte, flags int) (int, unix.Errno) {
	if len(p) == 0 {
		return 0, 0
	}
	r, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), uintptr(unix.MSG_NOSIGNAL|flags), 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), 0
}

func newSocket(ipv6, udp bool) (int, error) {
	family := unix.AF_INET
	if ipv6 {
		family = unix.AF_INET6
	}
	typ := unix.SOCK_STREAM
	if udp {
		typ = unix.SOCK_DGRAM
	}
	return unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
}

// setStreamOpts applies the options every accepted/outbound TCP socket gets.
func setStreamOpts(fd int) {
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
}

func sockaddrOf(ip net.IP, port int) (unix.Sockaddr, bool) {
	if ip4 := ip.To4(); ip4 != nil {
		sa := &unix.SockaddrInet4{Port: port}
		copy(sa.Addr[:], ip4)
		return sa, false
	}
	sa := &unix.SockaddrInet6{Port: port}
	copy(sa.Addr[:], ip.To16())
	return sa, true
}

func addrOf(sa unix.Sockaddr) Addr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return Addr{IP: net.IPv4(a.Addr[0], a.Addr[1], a.Addr[2], a.Addr[3]).To4(), Port: a.Port}
	case *unix.SockaddrInet6:
		ip := make(net.IP, net.IPv6len)
		copy(ip, a.Addr[:])
		return Addr{IP: ip, Port: a.Port, IPv6: true}
	}
	return Addr{}
}
