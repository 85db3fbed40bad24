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
