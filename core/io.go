package core

import (
	"time"

	"golang.org/x/sys/unix"
)

// maxReadsPerTurn bounds one connection's reading per iteration (fairness);
// a socket with more data stays readable and the next Wait does not block.
const maxReadsPerTurn = 8

// ioStep reads, runs the protocol engine, delivers EvRead, then writes.
func (m *Manager) ioStep(c *Conn) {
	got := false
	if c.canRead() {
		got = m.readStep(c)
		if c.has(fClosed) || m.aborted || c.has(fClosing) && !got {
			return
		}
	}
	read := got
	if h := c.http; h != nil && !c.has(fDraining) && !c.has(fClosing) && (got || h.reparse || h.stream != nil && c.has(fPeerEOF)) {
		synthetic := h.pollClear
		h.reparse, h.pollClear = false, false
		parsed := false
		if h.server {
			parsed = m.httpServe(c, got)
		} else {
			m.httpClientParse(c, false)
		}
		if c.has(fClosed) {
			return
		}
		if m.aborted {
			h.reparse = true // buffered requests wait for the next Process
			return
		}
		read = got || synthetic || parsed
	}
	if p := c.protocol(); p != nil && got && !c.has(fDraining) && !c.has(fClosing) {
		p.onRead(m, c)
		if c.has(fClosed) || m.aborted {
			return
		}
	}
	if read && !c.has(fDraining) {
		m.emit(c, EvRead, nil)
		if c.has(fClosed) || m.aborted {
			return
		}
	}
	if !c.has(fClosing) {
		if c.fileXfer() != nil {
			m.xferStep(c) // static.go
		} else {
			m.writeStep(c)
		}
	}
}

// readStep reads what the socket has (up to a per-turn bound) into the
// receive buffer and reports whether new bytes were stored. A draining
// conn reads and discards, so that end-of-file and resets are noticed.
func (m *Manager) readStep(c *Conn) (got bool) {
	if c.tlsSt() != nil {
		return m.tlsReadStep(c) // tls.go
	}
	if c.has(fDraining) {
		m.discardInput(c)
		return false
	}
	if c.has(fUDP) {
		return m.readDatagrams(c)
	}
	lim := m.recvLimit(c)
loop:
	for i := 0; i < maxReadsPerTurn; i++ {
		if c.bodyPaused() {
			break // a streamed body waits for the adapter (http_body_stream.go)
		}
		if lim > 0 && c.recv.len() >= lim {
			if !got {
				c.Error("MG_MAX_RECV_SIZE")
			}
			break // else: report this batch first, fail on the next read
		}
		c.growRecvSize()
		buf := c.bodyReadLimit(c.recv.reserve(ioSize))
		n, e := sysRead(c.fd, buf)
		switch {
		case n > 0:
			c.recv.commit(n)
			got = true
			if n < len(buf) && !c.has(fPeerShut) {
				c.clear(fReadable) // short read: drained (a new edge comes with new data)
				break loop
			}
		case n == 0:
			c.set(fPeerEOF)
			c.clear(fReadable)
			break loop
		case e == unix.EINTR:
		case e == unix.EAGAIN:
			c.clear(fReadable)
			break loop
		default: // reset: nothing more can be exchanged
			c.clear(fReadable)
			c.set(fClosing)
			break loop
		}
	}
	c.fitRecvSize()
	return got
}

// growRecvSize mimics Mongoose's receive buffer growth for RecvSize.
func (c *Conn) growRecvSize() {
	if int(c.recvSize)-c.recv.len() < ioSize {
		c.recvSize += ioSize
	}
}

// recvLimit is the receive buffer bound (API.md §13): MaxRecvSize for raw
// conns; for HTTP conns it bounds the bytes queued behind the message being
// received, which has its own limits.
func (m *Manager) recvLimit(c *Conn) int {
	lim := m.lim.MaxRecvSize
	if lim <= 0 {
		return 0
	}
	if h := c.http; h != nil && !h.inProgress {
		lim += h.need
		if h.need == 0 {
			lim += m.lim.MaxHeadSize
		}
	}
	if p, ok := c.protocol().(interface{ recvNeed() int }); ok {
		lim += p.recvNeed() // the message being received has its own limit
	}
	return lim
}

func (m *Manager) discardInput(c *Conn) {
	if m.scratch == nil {
		m.scratch = make([]byte, 64*1024)
	}
	for i := 0; i < 4*maxReadsPerTurn; i++ {
		n, e := sysRead(c.fd, m.scratch)
		switch {
		case n > 0:
			if n < len(m.scratch) && !c.has(fPeerShut) {
				c.clear(fReadable)
				return
			}
		case n == 0:
			c.set(fPeerEOF)
			c.clear(fReadable)
			return
		case e == unix.EINTR:
		case e == unix.EAGAIN:
			c.clear(fReadable)
			return
		default:
			c.clear(fReadable)
			c.set(fClosing)
			return
		}
	}
}

// writeStep writes queued output until the kernel would block, then asks
// epoll for writability (only then). EvWrite follows a successful write.
func (m *Manager) writeStep(c *Conn) {
	if c.tlsSt() != nil {
		m.tlsWriteStep(c) // tls.go
		return
	}
	if c.send.len() == 0 || !c.has(fWritable) || c.has(fUDP) || c.has(fListening) {
		return
	}
	// A draining conn closes once this is written: MSG_MORE holds the last
	// partial segment back so that close() sends it with the FIN, one
	// segment (and one ACK) fewer per connection for both ends. close()
	// flushes it, and so does the next write if the handler queues more.
	flags := 0
	if c.has(fDraining) {
		flags = unix.MSG_MORE
	}
	total := 0
	for c.send.len() > 0 {
		p := c.send.data()
		n, e := sysSendFlags(c.fd, p, flags)
		if n > 0 {
			c.send.consume(n)
			total += n
			if n < len(p) {
				m.blockWrite(c)
				break
			}
			continue
		}
		if e == unix.EINTR {
			continue
		}
		if e == unix.EAGAIN {
			m.blockWrite(c)
			break
		}
		// EPIPE/ECONNRESET: the peer can no longer receive; drop the rest.
		c.clear(fWritable)
		c.set(fClosing)
		break
	}
	if total > 0 {
		c.setLastWrite(m.now)
		m.emit(c, EvWrite, nil)
	}
}

// blockWrite records that the socket is full. EPOLLOUT joins the interest
// set the first time; being edge-triggered it stays there at no cost, and
// EPOLL_CTL_MOD reports a readiness that arrived in between.
func (m *Manager) blockWrite(c *Conn) {
	c.clear(fWritable)
	if !c.has(fEpollOut) {
		c.set(fEpollOut)
		m.p.mod(c.fd, evIn|evOut)
	}
}

// checkTimeouts enforces the drain stall and HTTP request timeouts.
func (m *Manager) checkTimeouts(c *Conn) {
	now := m.now
	st := time.Duration(m.lim.StallTimeoutMs) * time.Millisecond
	if c.has(fDraining) {
		if st > 0 && c.send.len() > 0 && !c.lastWrite().IsZero() && now.Sub(c.lastWrite()) >= st {
			c.Error("drain timeout")
		}
		return
	}
	h := c.http
	if h == nil || !h.server {
		return
	}
	ht := time.Duration(m.lim.HeadTimeoutMs) * time.Millisecond
	if ht > 0 && !h.headStart.IsZero() && now.Sub(h.headStart) >= ht ||
		st > 0 && !h.bodyLast.IsZero() && now.Sub(h.bodyLast) >= st {
		m.httpReject(c, 408)
		if c.established() {
			m.writeStep(c)
		}
	}
}

// connDeadline is the earliest time checkTimeouts must run for c.
func (m *Manager) connDeadline(c *Conn) time.Time {
	var d time.Time
	st := time.Duration(m.lim.StallTimeoutMs) * time.Millisecond
	if c.has(fDraining) {
		if lw := c.lastWrite(); st > 0 && c.send.len() > 0 && !lw.IsZero() {
			d = lw.Add(st)
		}
		return d
	}
	h := c.http
	if h == nil {
		return d
	}
	if ht := time.Duration(m.lim.HeadTimeoutMs) * time.Millisecond; ht > 0 && !h.headStart.IsZero() {
		d = h.headStart.Add(ht)
	}
	if st > 0 && !h.bodyLast.IsZero() {
		if t := h.bodyLast.Add(st); d.IsZero() || t.Before(d) {
			d = t
		}
	}
	return d
}
