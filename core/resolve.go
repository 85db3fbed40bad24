package core

import (
	"context"
	"net"

	"github.com/pymongoose-go/pymongoose-go/core/codec"
)

// Resolve is Connection.resolve(url) (docs/api.md §5.11): it takes host and port
// from url, sets the remote port and resolves the host (IP literals and
// localhost at once, names with the system resolver off the loop thread,
// answered in a later Process), then connects this connection's socket to
// the result with the usual EvResolve / EvConnect / EvError events. A
// lookup still pending for the connection is superseded. A socket the
// connection already has is closed first: the connection is re-targeted.
//
// On a listener, where connecting is meaningless, it only sets the remote
// address (for a UDP listener, where send() replies go) and delivers
// EvResolve; a name is then looked up synchronously, as Listen does.
func (c *Conn) Resolve(url string) {
	if c.has(fClosed) || c.has(fInClose) || c.m == nil {
		return
	}
	m := c.m
	ep := codec.ParseURL(url)
	c.stopDNS()
	ip := codec.LiteralIP(ep.Host)
	if c.has(fListening) {
		if ip == nil {
			ips, err := net.DefaultResolver.LookupIPAddr(context.Background(), ep.Host)
			if err != nil || len(ips) == 0 {
				c.Error(ep.Host + " DNS lookup failed")
				return
			}
			ip = codec.PickIP(ips)
		}
		sa, _ := sockaddrOf(ip, ep.Port)
		c.remote = compact(addrOf(sa))
		m.emit(c, EvResolve, nil)
		return
	}
	m.dropSocket(c)
	if ip != nil {
		m.connectTo(c, ip, ep.Port)
		return
	}
	m.resolve(c, ep.Host, ep.Port)
}

// ResolveCancel is Connection.resolve_cancel(): the pending lookup of the
// connection, if any, is cancelled and its answer ignored. No event is
// delivered; as in the reference the connection stays unresolved (it does
// no I/O) until it is closed or resolve() is called again.
func (c *Conn) ResolveCancel() {
	if c.has(fClosed) || c.m == nil {
		return
	}
	c.stopDNS()
}

// IsResolving reports a host name lookup in progress (or cancelled).
func (c *Conn) IsResolving() bool { return !c.has(fClosed) && c.has(fResolving) }

// stopDNS cancels the lookup in flight; its answer will not match dnsSeq.
func (c *Conn) stopDNS() {
	x := c.x()
	if x.dnsCancel != nil {
		x.dnsCancel()
		x.dnsCancel = nil
	}
	x.dnsSeq++
}

// dropSocket closes the socket of a connection about to be re-targeted by
// Resolve and forgets its readiness; buffers and flags such as draining
// are kept, as Mongoose does.
func (m *Manager) dropSocket(c *Conn) {
	c.clear(fResolving)
	if c.fd < 0 {
		return
	}
	m.closeSocket(c)
	c.clear(fConnecting | fReadable | fWritable | fSockErr |
		fPeerShut | fEpollOut | fSeenR | fPeerEOF)
	c.local = sockAddr{}
}
