package core

import (
	"net"
	"strconv"
)

// Addr is a socket address as the API reports it. The zero value means
// ("0.0.0.0", 0, false).
type Addr struct {
	IP   net.IP
	Port int
	IPv6 bool
}

// String formats the address as host:port (IPv6 in brackets).
func (a Addr) String() string {
	ip := a.IP
	if ip == nil {
		ip = net.IPv4zero
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(a.Port))
}

// sockAddr is an address stored in a Conn: 20 bytes and no pointer, where
// an Addr costs 40 plus its IP's memory. kind 0 means no IP (Addr.IP nil).
type sockAddr struct {
	ip   [16]byte
	port uint16
	kind uint8 // 0, 4 or 6
}

func (a *sockAddr) addr() Addr {
	switch a.kind {
	case 4:
		return Addr{IP: net.IP(append(make([]byte, 0, 4), a.ip[:4]...)), Port: int(a.port)}
	case 6:
		return Addr{IP: net.IP(append(make([]byte, 0, 16), a.ip[:]...)), Port: int(a.port), IPv6: true}
	}
	return Addr{Port: int(a.port)}
}

// compact stores an Addr as addrOf makes them (4-byte IPv4, 16-byte IPv6).
func compact(a Addr) sockAddr {
	s := sockAddr{port: uint16(a.Port)}
	switch {
	case a.IP == nil:
	case a.IPv6:
		s.kind = 6
		copy(s.ip[:], a.IP.To16())
	default:
		s.kind = 4
		copy(s.ip[:4], a.IP.To4())
	}
	return s
}

// hasIP reports an address with an IP (a zero Addr has none).
func (a *sockAddr) hasIP() bool { return a.kind != 0 }

// unspecified: no IP or the wildcard address (0.0.0.0, ::), for which an
// accepted socket's local address has to be asked from the kernel.
func (a *sockAddr) unspecified() bool {
	return a.kind == 0 || a.ip == [16]byte{}
}
