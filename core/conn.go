package core

import (
	"time"
	"unsafe"
)

// Conn is one connection: a listener, an accepted or outbound TCP socket, or
// a UDP socket. Every method must be called on the Manager's loop thread.
type Conn struct {
	// Tag is free for the binding (it keeps its wrapper object here). A
	// plain pointer, not an interface: 8 bytes less per connection.
	Tag unsafe.Pointer

	m          *Manager
	id         uint64
	fd         int
	parent     *Conn
	prev, next *Conn // Manager list, newest first

	// Capacities as Mongoose reports them (RecvSize, SendSize) and the
	// Manager.gen of the last finished turn; 32 bits (and one flags word)
	// keep the struct in a smaller size class, 144 bytes: it is most of an
	// idle conn's memory.
	recvSize int32
	sendSize int32
	doneGen  uint32

	flags connFlags // the booleans, one bit each (flags.go)

	local, remote sockAddr

	recv iobuf // nil memory until used (buffer.go)
	send iobuf

	http *httpConn
	ext  *connExt // rarely used state, allocated on first use
}

// connExt holds what most connections never use, so that an idle accepted
// connection does not pay for it.
type connExt struct {
	lastWrite  time.Time            // drain stall detection
	dnsCancel  func()               // lookup in flight (resolve.go)
	dnsSeq     uint64               // bumped by each lookup and resolve_cancel
	host       string               // host of the connect URL (TLS name check)
	childProto func(*Conn) protocol // listener: engine for accepted children
	proto      protocol             // WebSocket/MQTT/SNTP engine, if any (protocol.go)
	xfer       *fileXfer            // static file body being streamed (static.go)
	tlsst      *tlsState            // tls_init was called (tls.go)
}

// x returns the side state, allocating it on first use.
func (c *Conn) x() *connExt {
	if c.ext == nil {
		c.ext = new(connExt)
	}
	return c.ext
}

// lastWrite is the time of the last write while draining (zero if none).
func (c *Conn) lastWrite() time.Time {
	if c.ext == nil {
		return time.Time{}
	}
	return c.ext.lastWrite
}

// setLastWrite records a write for the drain stall timeout, which only
// applies to draining connections (a keep-alive conn allocates nothing).
func (c *Conn) setLastWrite(t time.Time) {
	if c.has(fDraining) || c.ext != nil {
		c.x().lastWrite = t
	}
}

// protocol is the WebSocket/MQTT/SNTP engine, else nil.
func (c *Conn) protocol() protocol {
	if c.ext == nil {
		return nil
	}
	return c.ext.proto
}

func (c *Conn) setProtocol(p protocol) {
	if p != nil || c.ext != nil {
		c.x().proto = p
	}
}

// fileXfer is the static file being streamed, else nil.
func (c *Conn) fileXfer() *fileXfer {
	if c.ext == nil {
		return nil
	}
	return c.ext.xfer
}

func (c *Conn) setFileXfer(x *fileXfer) {
	if x != nil || c.ext != nil {
		c.x().xfer = x
	}
}

// tlsSt is the TLS state once tls_init was called, else nil.
func (c *Conn) tlsSt() *tlsState {
	if c.ext == nil {
		return nil
	}
	return c.ext.tlsst
}

func (c *Conn) setTLSSt(t *tlsState) {
	if t != nil || c.ext != nil {
		c.x().tlsst = t
	}
}

// host is the host name of the connect URL, else "".
func (c *Conn) host() string {
	if c.ext == nil {
		return ""
	}
	return c.ext.host
}

// fitRecvSize keeps RecvSize at least the buffered length, rounded up.
func (c *Conn) fitRecvSize() {
	if n := c.recv.len(); int(c.recvSize) < n {
		c.recvSize = int32(roundIO(n))
	}
}

// ID is the connection id: from 1 per Manager, never reused.
func (c *Conn) ID() uint64 { return c.id }

// Manager returns the owning manager.
func (c *Conn) Manager() *Manager { return c.m }

// Parent is the listener that accepted this connection, else nil.
func (c *Conn) Parent() *Conn { return c.parent }

func (c *Conn) IsListening() bool { return c.has(fListening) }
func (c *Conn) IsClient() bool    { return c.has(fClient) }
func (c *Conn) IsTLS() bool       { return c.has(fTLS) }
func (c *Conn) IsUDP() bool       { return c.has(fUDP) }
func (c *Conn) IsWebsocket() bool { return c.has(fWebsocket) }
func (c *Conn) IsReadable() bool  { return !c.has(fClosed) && (c.has(fReadable) || c.has(fSeenR)) }
func (c *Conn) IsWritable() bool  { return !c.has(fClosed) && c.has(fWritable) }
func (c *Conn) IsDraining() bool  { return !c.has(fClosed) && c.has(fDraining) }

// IsFull reports back-pressure: the send queue is at or above SendHighWater
// and reading is paused (docs/api.md §5.4).
func (c *Conn) IsFull() bool {
	hw := c.m.lim.SendHighWater
	return !c.has(fClosed) && hw > 0 && c.send.len() >= hw
}

// IsClosing is true once the connection is marked for closing, while its
// EvClose is delivered, and afterwards.
func (c *Conn) IsClosing() bool { return c.has(fClosing) || c.has(fInClose) || c.has(fClosed) }

// IsClosed reports that EvClose has been delivered and the conn freed.
func (c *Conn) IsClosed() bool { return c.has(fClosed) }

// IsHTTP reports an HTTP engine on the connection (or an HTTP listener).
func (c *Conn) IsHTTP() bool { return c.http != nil || c.has(fHTTPListener) }

func (c *Conn) LocalAddr() Addr  { return c.local.addr() }
func (c *Conn) RemoteAddr() Addr { return c.remote.addr() }

func (c *Conn) RecvLen() int { return c.recv.len() }
func (c *Conn) SendLen() int { return c.send.len() }

// RecvSize is the receive capacity as Mongoose reports it (multiples of 16384).
func (c *Conn) RecvSize() int { return int(c.recvSize) }

// SendSize is the send capacity as Mongoose reports it: re-sized to the
// length rounded up to 16384 after each append, never shrunk by writes.
func (c *Conn) SendSize() int { return int(c.sendSize) }

// RecvData is a view of the receive buffer; callers copy.
func (c *Conn) RecvData() []byte { return c.recv.data() }

// SendData is a view of the queued output; callers copy.
func (c *Conn) SendData() []byte { return c.send.data() }

// established: a socket that does data I/O (not listening, resolving or connecting).
func (c *Conn) established() bool {
	return c.fd >= 0 && !c.has(fListening) && !c.has(fResolving) && !c.has(fConnecting)
}

// canRead: reading is allowed now (draining conns read and discard).
func (c *Conn) canRead() bool {
	return (c.has(fReadable) || c.tlsSt() != nil && c.tlsSt().more) && !c.has(fPeerEOF) && (c.has(fDraining) || !c.IsFull() && !c.bodyPaused())
}

// pending reports work the next iteration must do without waiting.
func (c *Conn) pending() bool {
	if c.tlsSt() != nil && !c.has(fClosing) && c.established() {
		return c.tlsPending()
	}
	if c.has(fClosing) || c.has(fDraining) && c.send.len() == 0 {
		return true
	}
	if c.has(fListening) {
		return c.has(fReadable)
	}
	if !c.established() {
		return false
	}
	if c.send.len() > 0 && c.has(fWritable) || c.canRead() {
		return true
	}
	return c.httpReparse()
}

// afterQueue notes new output: the loop must write it without waiting.
func (c *Conn) afterQueue() {
	c.httpQueued()
	c.sendSize = int32(roundIO(c.send.len()))
	c.m.kick(c)
}
