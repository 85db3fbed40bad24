package core

// maxDatagram is the room kept free for one datagram.
const maxDatagram = 65536

// readDatagrams appends the next pending datagram to the receive buffer
// (which, as for raw TCP, nothing consumes) and, on a UDP listener, remembers
// its sender as the remote address that Send replies to. One datagram per
// turn, as in Mongoose: each EvRead is one datagram, so a listener's handler
// replies to the sender of what it just read; a socket with more stays
// readable and the next Wait does not block.
func (m *Manager) readDatagrams(c *Conn) (got bool) {
	lim := m.lim.MaxRecvSize
	for i := 0; i < 4*maxReadsPerTurn; i++ {
		if lim > 0 && c.recv.len() >= lim {
			if !got {
				c.Error("MG_MAX_RECV_SIZE")
			}
			break
		}
		c.growRecvSize()
		buf := c.recv.reserve(maxDatagram)
		n, from, err := sysRecvFrom(c.fd, buf)
		if err != nil {
			if err == errIntr {
				continue
			}
			c.clear(fReadable)
			if err != errAgain && !c.has(fListening) {
				// A connected socket reports ICMP errors (port unreachable)
				// here: Mongoose sees EPOLLERR and fails the connection.
				c.Error("socket error")
			}
			break
		}
		c.recv.commit(n)
		got = true
		if c.has(fListening) && from != nil {
			c.remote = compact(addrOf(from))
		}
		break
	}
	c.fitRecvSize()
	return got
}
