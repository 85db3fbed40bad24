package core

import (
	"context"
	"fmt"
	"net"

	"github.com/pymongoose-go/pymongoose-go/core/codec"
)

// ListenOptions configure Listen. Init runs right after the Conn exists,
// before EvOpen, so the binding can attach its handler first.
type ListenOptions struct {
	HTTP      bool
	ReusePort bool
	Init      func(c *Conn)
}

const listenBacklog = 128

// acceptPerTurn bounds accepts per listener turn; the rest wait one iteration.
const acceptPerTurn = 64

// Listen creates a TCP or UDP listener (URL rules of docs/api.md §12) and fires
// EvOpen before returning. Host names are looked up with the system
// resolver (blocking).
func (m *Manager) Listen(url string, o ListenOptions) (*Conn, error) {
	if m.closed || m.closingAll {
		return nil, ErrManagerClosed
	}
	ep := codec.ParseURL(url)
	ip := codec.LiteralIP(ep.Host)
	if ip == nil {
		ips, err := net.DefaultResolver.LookupIPAddr(context.Background(), ep.Host)
		if err != nil || len(ips) == 0 {
			return nil, fmt.Errorf("cannot resolve %q", ep.Host)
		}
		ip = codec.PickIP(ips)
	}
	sa, v6 := sockaddrOf(ip, ep.Port)
	fd, err := newSocket(v6, ep.UDP)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Conn, error) {
		logf(LogError, "listen on %s: %v", url, err)
		sysClose(fd)
		return nil, err
	}
	if err := bindSocket(fd, sa, o.ReusePort, !ep.UDP); err != nil {
		return fail(err)
	}
	if err := m.p.add(fd, evIn); err != nil {
		return fail(err)
	}
	c := m.newConn(fd)
	c.set(fListening)
	c.setTo(fUDP, ep.UDP)
	c.setTo(fTLS, ep.TLS)
	c.setTo(fHTTPListener, o.HTTP && !ep.UDP)
	c.local = sockName(fd)
	if LogEnabled(LogDebug) {
		logf(LogDebug, "%d listening on %s", c.id, c.LocalAddr())
	}
	if o.Init != nil {
		o.Init(c)
	}
	if !c.has(fClosed) {
		m.emit(c, EvOpen, nil)
	}
	return c, nil
}

// acceptReady accepts pending connections: each gets EvOpen then EvAccept
// now, and its first POLL/READ in the next iteration.
func (m *Manager) acceptReady(l *Conn) {
	for i := 0; i < acceptPerTurn && l.has(fReadable); i++ {
		nfd, remote, e := accept4(l.fd)
		if e != 0 {
			if e == errIntr || e == errConnAborted {
				continue
			}
			l.clear(fReadable) // EAGAIN, or out of descriptors: wait for the next edge
			return
		}
		setStreamOpts(nfd)
		if err := m.p.add(nfd, evIn); err != nil {
			sysClose(nfd)
			continue
		}
		c := m.newConn(nfd)
		c.parent = l
		c.setTo(fTLS, l.has(fTLS))
		c.set(fWritable)
		c.local = l.local
		if l.local.unspecified() {
			c.local = sockName(nfd) // its own address, not the listener's (docs/api.md §19.1)
		}
		c.remote = remote
		if LogEnabled(LogDebug) {
			logf(LogDebug, "%d accepted %s -> %s", c.id, c.RemoteAddr(), c.LocalAddr())
		}
		if l.has(fHTTPListener) {
			c.http = newHTTPConn(true)
		}
		if x := l.ext; x != nil && x.childProto != nil {
			c.setProtocol(x.childProto(c))
		}
		m.emit(c, EvOpen, nil)
		if !c.has(fClosed) {
			m.emit(c, EvAccept, nil)
			c.setTo(fTLS, c.tlsSt() != nil) // downgraded unless tls_init ran during EvAccept
		}
		if l.has(fClosed) || l.has(fClosing) || m.aborted {
			return
		}
	}
}
