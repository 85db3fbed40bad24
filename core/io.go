package core

import "time"

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
	read := m.httpRead(c, got)
	if c.has(fClosed) || m.aborted {
		return
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
		n, end := c.sockRead(c.bodyReadLimit(c.recv.reserve(ioSize)))
		if n > 0 {
			c.recv.commit(n)
			got = true
		}
		if c.readEnded(end) {
			break
		}
	}
	c.fitRecvSize()
	return got
}

// readEnd says how a read left the socket.
type readEnd uint8

const (
	readOn      readEnd = iota // more may be there (or EINTR): read again
	readDrained                // nothing more for now: a new edge comes with new data
	readEOF                    // the peer's end of file
	readReset                  // reset: nothing more can be exchanged
)

// sockRead reads from c's socket into buf. It returns the byte count (0
// if none) and how the socket is left; unless readOn, c is no longer
// readable.
func (c *Conn) sockRead(buf []byte) (int, readEnd) {
	n, e := sysRead(c.fd, buf)
	end := readReset
	switch {
	case n > 0:
		if n == len(buf) || c.has(fPeerShut) {
			return n, readOn
		}
		end = readDrained // a short read
	case n == 0:
		end = readEOF
	case e == errIntr:
		return 0, readOn
	case e == errAgain:
		end = readDrained
	}
	c.clear(fReadable)
	return max(n, 0), end
}

// readEnded applies a plain socket's read end: end of file or reset. It
// reports whether reading stops.
func (c *Conn) readEnded(end readEnd) bool {
	switch end {
	case readOn:
		return false
	case readEOF:
		c.set(fPeerEOF)
	case readReset:
		c.set(fClosing)
	}
	return true
}

// growRecvSize mimics Mongoose's receive buffer growth for RecvSize.
func (c *Conn) growRecvSize() {
	if int(c.recvSize)-c.recv.len() < ioSize {
		c.recvSize += ioSize
	}
}

// recvLimit is the receive buffer bound (docs/api.md §13): MaxRecvSize for raw
// conns; for HTTP conns it bounds the bytes queued behind the message being
// received, which has its own limits.
func (m *Manager) recvLimit(c *Conn) int {
	lim := m.lim.MaxRecvSize
	if lim <= 0 {
		return 0
	}
	lim += c.httpRecvNeed(m.lim.MaxHeadSize)
	if p := c.protocol(); p != nil {
		lim += p.recvNeed()
	}
	return lim
}

func (m *Manager) discardInput(c *Conn) {
	if m.scratch == nil {
		m.scratch = make([]byte, 64*1024)
	}
	for i := 0; i < 4*maxReadsPerTurn; i++ {
		if _, end := c.sockRead(m.scratch); c.readEnded(end) {
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
	n, ok := m.sendOut(c, c.send.data(), c.has(fDraining))
	c.send.consume(n)
	if !ok {
		c.clear(fWritable)
		c.set(fClosing)
	}
	if n > 0 {
		c.setLastWrite(m.now)
		m.emit(c, EvWrite, nil)
	}
}

// sendOut writes p (holding a last partial segment back if more) until it
// is all written or the socket is full, then awaits EPOLLOUT. It returns
// how much was written, and false when the peer can no longer receive
// (EPIPE/ECONNRESET): the rest is dropped with the connection.
func (m *Manager) sendOut(c *Conn, p []byte, more bool) (n int, ok bool) {
	for n < len(p) {
		w, e := sysSendMore(c.fd, p[n:], more)
		switch {
		case w > 0:
			n += w
			if n < len(p) {
				m.blockWrite(c) // a short write: the socket buffer is full
				return n, true
			}
		case e == errIntr:
		case e == errAgain:
			m.blockWrite(c)
			return n, true
		default:
			return n, false
		}
	}
	return n, true
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
	if !m.due(m.connDeadline(c)) {
		return
	}
	if c.has(fDraining) {
		c.Error("drain timeout")
		return
	}
	m.httpTimeout(c)
}

// due reports that deadline d (zero: none) has passed.
func (m *Manager) due(d time.Time) bool { return !d.IsZero() && !m.now.Before(d) }

// connDeadline is when checkTimeouts must act on c (zero: never): a
// draining conn that cannot write fails after StallTimeoutMs; a request
// fails when its head is not complete HeadTimeoutMs after it began, or
// when its body stalls for StallTimeoutMs.
func (m *Manager) connDeadline(c *Conn) time.Time {
	var d time.Time
	st := time.Duration(m.lim.StallTimeoutMs) * time.Millisecond
	if c.has(fDraining) {
		if lw := c.lastWrite(); st > 0 && c.send.len() > 0 && !lw.IsZero() {
			d = lw.Add(st)
		}
		return d
	}
	head, body := c.httpClocks()
	if ht := time.Duration(m.lim.HeadTimeoutMs) * time.Millisecond; ht > 0 && !head.IsZero() {
		d = head.Add(ht)
	}
	if st > 0 && !body.IsZero() {
		if t := body.Add(st); d.IsZero() || t.Before(d) {
			d = t
		}
	}
	return d
}
