package core

import (
	"encoding/binary"
	"net"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The socket and file syscalls of the engine (epoll is in poller_linux.go):
// the other files call these named functions and never x/sys/unix.

// errno is a syscall's error number; the loop tells these apart.
type errno = unix.Errno

const (
	errAgain       = unix.EAGAIN
	errIntr        = unix.EINTR
	errInProgress  = unix.EINPROGRESS
	errConnAborted = unix.ECONNABORTED
	errConnRefused = unix.ECONNREFUSED
)

// Raw read/send wrappers: no allocation, errno returned as is, and
// MSG_NOSIGNAL so that a peer reset never raises SIGPIPE.

// sysRead and sysSend are only used on non-blocking sockets: they never
// block, so the raw syscalls skip the scheduler hand-off of unix.Syscall
// (entersyscall/exitsyscall were ~14 % of the keep-alive user time).
func sysRead(fd int, p []byte) (int, errno) {
	if len(p) == 0 {
		return 0, 0
	}
	r, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return -1, e
	}
	return int(r), 0
}

func sysSend(fd int, p []byte) (int, errno) {
	return sysSendMore(fd, p, false)
}

// sysSendMore is sysSend that, if more, holds a last partial segment back
// (MSG_MORE) until the next write or the close.
func sysSendMore(fd int, p []byte, more bool) (int, errno) {
	if len(p) == 0 {
		return 0, 0
	}
	flags := unix.MSG_NOSIGNAL
	if more {
		flags |= unix.MSG_MORE
	}
	r, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), uintptr(flags), 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), 0
}

// sysSendTo sends one datagram to sa.
func sysSendTo(fd int, p []byte, sa unix.Sockaddr) error {
	return unix.Sendto(fd, p, unix.MSG_NOSIGNAL, sa)
}

// sysRecvFrom reads one datagram and its sender (nil if unknown).
func sysRecvFrom(fd int, p []byte) (int, unix.Sockaddr, error) {
	return unix.Recvfrom(fd, p, 0)
}

// sysClose closes a descriptor; a socket also leaves the epoll set.
func sysClose(fd int) { unix.Close(fd) }

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

// bindSocket binds fd to sa with SO_REUSEADDR (and SO_REUSEPORT if
// reusePort), then makes it listen unless it is a datagram socket.
func bindSocket(fd int, sa unix.Sockaddr, reusePort, stream bool) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return err
	}
	if reusePort {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			return err
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return err
	}
	if stream {
		return unix.Listen(fd, listenBacklog)
	}
	return nil
}

// sysConnect starts connecting fd to sa; a non-blocking stream socket
// returns errInProgress.
func sysConnect(fd int, sa unix.Sockaddr) error { return unix.Connect(fd, sa) }

// sockError is fd's pending error (SO_ERROR): how a non-blocking connect
// ended.
func sockError(fd int) (int, error) {
	return unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
}

// setStreamOpts applies the options every accepted/outbound TCP socket gets.
func setStreamOpts(fd int) {
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
}

// openNonblock opens a file for reading without blocking on a FIFO.
func openNonblock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
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

// The accept path uses raw syscalls into a stack sockaddr: x/sys/unix's
// Accept4 and Getsockname allocate a Sockaddr per call, garbage that at
// thousands of connections per second costs GC time and RSS.

// accept4 accepts one connection, non-blocking and close-on-exec.
func accept4(fd int) (int, sockAddr, errno) {
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
