package core

import (
	"context"
	"net"
	"time"

	"github.com/pymongoose-go/pymongoose-go/core/codec"
)

// ConnectOptions configure Connect; Init runs before EvOpen.
type ConnectOptions struct {
	HTTP bool
	Init func(c *Conn)
}

// dnsTimeout caps a lookup on top of the system resolver's own timeouts.
const dnsTimeout = 30 * time.Second

type dnsAnswer struct {
	id   uint64
	seq  uint64 // Conn.dnsSeq of the lookup; a stale answer is dropped
	host string
	ip   net.IP
	err  bool
}

// Connect starts an outbound connection without waiting (docs/api.md §2.7,
// §10.2). EvOpen, and for IP literals and localhost EvResolve (UDP also
// EvConnect), fire before it returns. Host names are resolved in a
// goroutine and answered in a later Process. The only error is an empty
// URL (or a closed manager); network failures arrive as events.
func (m *Manager) Connect(url string, o ConnectOptions) (*Conn, error) {
	if m.closed || m.closingAll {
		return nil, ErrManagerClosed
	}
	if url == "" {
		return nil, ErrEmptyURL
	}
	ep := codec.ParseURL(url)
	c := m.newConn(-1)
	c.set(fClient)
	c.setTo(fUDP, ep.UDP)
	c.setTo(fTLS, ep.TLS)
	c.x().host = ep.Host
	if o.HTTP && !ep.UDP {
		c.http = newHTTPConn(false)
	}
	if o.Init != nil {
		o.Init(c)
	}
	if c.has(fClosed) {
		return c, nil
	}
	m.emit(c, EvOpen, nil)
	if c.has(fClosed) {
		return c, nil
	}
	if ip := codec.LiteralIP(ep.Host); ip != nil {
		m.connectTo(c, ip, ep.Port)
	} else {
		m.resolve(c, ep.Host, ep.Port)
	}
	return c, nil
}

// resolve looks a name up away from the loop thread.
func (m *Manager) resolve(c *Conn, host string, port int) {
	c.set(fResolving)
	c.remote = sockAddr{port: uint16(port)}
	ctx, cancel := context.WithTimeout(context.Background(), dnsTimeout)
	x := c.x()
	x.dnsCancel = cancel
	x.dnsSeq++
	id, seq := c.id, x.dnsSeq
	go func() {
		ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
		cancel()
		a := dnsAnswer{id: id, seq: seq, host: host}
		if err != nil || len(ips) == 0 {
			a.err = true
		} else {
			a.ip = codec.PickIP(ips)
		}
		m.post(func() { m.dnsQ = append(m.dnsQ, a) })
	}()
}

// dnsSeq numbers the latest lookup (0 before any).
func (c *Conn) dnsSeq() uint64 {
	if c.ext == nil {
		return 0
	}
	return c.ext.dnsSeq
}

// applyDNS delivers a lookup result inside Process.
func (m *Manager) applyDNS(a dnsAnswer) {
	c := m.byID.get(a.id)
	if c == nil || c.has(fClosed) || c.has(fInClose) || !c.has(fResolving) || a.seq != c.dnsSeq() {
		return
	}
	c.clear(fResolving)
	if c.ext != nil {
		c.ext.dnsCancel = nil
	}
	if a.err {
		c.Error(a.host + " DNS lookup failed")
		return
	}
	m.connectTo(c, a.ip, int(c.remote.port))
}

// connectTo sets the peer, fires EvResolve and starts the socket connect.
func (m *Manager) connectTo(c *Conn, ip net.IP, port int) {
	sa, v6 := sockaddrOf(ip, port)
	c.remote = compact(addrOf(sa))
	m.emit(c, EvResolve, nil)
	if c.has(fClosed) || c.has(fClosing) {
		return
	}
	fd, err := newSocket(v6, c.has(fUDP))
	if err != nil {
		c.Error("socket error")
		return
	}
	m.setFd(c, fd)
	if !c.has(fUDP) {
		setStreamOpts(fd)
	}
	err = sysConnect(fd, sa)
	if c.has(fUDP) {
		if err != nil {
			c.Error(connectErrText(err))
			return
		}
		m.p.add(fd, evIn)
		c.set(fWritable)
		if m.protoConnect(c); c.has(fClosed) || c.has(fClosing) {
			return
		}
		m.emit(c, EvConnect, nil)
		return
	}
	if err != nil && err != errInProgress {
		c.Error(connectErrText(err))
		return
	}
	c.set(fConnecting)
	c.set(fEpollOut)
	if err := m.p.add(fd, evIn|evOut); err != nil {
		c.Error("socket error")
	}
}

func connectErrText(err error) string {
	if e, ok := err.(errno); ok && e != errConnRefused {
		return "connect: " + itoa(int(e))
	}
	return "socket error"
}

// finishConnect completes a non-blocking connect once epoll reports it.
func (m *Manager) finishConnect(c *Conn) {
	if !c.has(fWritable) && !c.has(fReadable) && !c.has(fSockErr) {
		return
	}
	soerr, err := sockError(c.fd)
	if err != nil || soerr != 0 || c.has(fSockErr) && !c.has(fWritable) {
		c.Error("socket error")
		return
	}
	if !c.has(fWritable) {
		return
	}
	c.clear(fConnecting)
	c.local = sockName(c.fd)
	if m.protoConnect(c); c.has(fClosed) || c.has(fClosing) {
		return
	}
	m.emit(c, EvConnect, nil)
	if !c.has(fClosed) {
		c.setTo(fTLS, c.tlsSt() != nil) // downgraded unless tls_init ran (tls.go)
	}
}
