package core

import "unicode/utf8"

// Close closes the connection now (docs/api.md §6.3): the socket is closed and
// EvClose delivered before it returns, exactly once; unsent data is
// dropped. It is a no-op on a closed connection and while its EvClose is
// being delivered, and safe from any handler or timer.
func (c *Conn) Close() {
	if c.has(fClosed) || c.has(fInClose) || c.m == nil {
		return
	}
	c.m.closeConn(c)
}

// Drain marks the connection draining (docs/api.md §6.2): no more data is taken
// from the peer (buffered input is dropped, later input read and
// discarded), queued output is flushed, then the connection closes.
func (c *Conn) Drain() {
	if c.has(fClosed) || c.has(fInClose) || c.has(fDraining) || c.m == nil {
		return
	}
	c.set(fDraining)
	c.recv.reset() // keeps the memory: a running handler's message stays valid
	c.httpStopInput()
	c.x().lastWrite = c.m.clock()
	c.m.kick(c)
}

// Error marks the connection closing and delivers EvError with msg cut to 63
// bytes (never inside a UTF-8 sequence). EvClose follows at the end of the
// connection's next turn.
func (c *Conn) Error(msg string) {
	if c.has(fClosed) || c.has(fInClose) || c.m == nil {
		return
	}
	c.set(fClosing)
	c.m.kick(c)
	if LogEnabled(LogError) {
		logf(LogError, "%d %s", c.id, msg) // log.go
	}
	c.m.emit(c, EvError, truncateUTF8(msg, 63))
}

func truncateUTF8(s string, max int) string {
	if len(s) <= max {
		return s
	}
	s = s[:max]
	// Drop a trailing partial character.
	for i := len(s) - 1; i >= 0 && i >= len(s)-utf8.UTFMax; i-- {
		if utf8.RuneStart(s[i]) {
			if !utf8.FullRuneInString(s[i:]) {
				s = s[:i]
			}
			break
		}
	}
	return s
}

// closeConn closes the socket, delivers EvClose and frees the buffers.
func (m *Manager) closeConn(c *Conn) {
	if c.has(fClosed) || c.has(fInClose) {
		return
	}
	c.set(fInClose)
	c.set(fClosing)
	if x := c.ext; x != nil && x.dnsCancel != nil {
		x.dnsCancel()
		x.dnsCancel = nil
	}
	if c.has(fDraining) && c.fd >= 0 && !c.has(fListening) {
		// A close with unread input makes the kernel send RST, which can
		// destroy the tail of the response still in flight.
		m.discardInput(c)
	}
	c.tlsDrop() // tls.go
	m.unlink(c)
	c.xferStop() // static.go
	m.httpPeerClosed(c)
	m.emit(c, EvClose, nil)
	m.byID.del(c.id) // after EvClose: bindings find the conn during it
	c.set(fClosed)
	c.clear(fReadable | fWritable | fSeenR)
	m.release(&c.recv)
	m.release(&c.send)
	m.httpFree(c)
	c.recvSize, c.sendSize = 0, 0
}
