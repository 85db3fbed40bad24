package core

// httpClientParse parses responses on a client connection (§7.3). atClose
// delivers a close-delimited response. Errors keep the reference texts.
func (m *Manager) httpClientParse(c *Conn, atClose bool) {
	h := c.http
	maxMsg := m.lim.MaxMessageSize
	for !c.closed && !c.draining && !m.aborted {
		buf := c.recv.data()
		if len(buf) == 0 {
			h.need = 0
			return
		}
		n, code := parseHead(buf, false, 0, 0, &h.msg, &h.hi)
		if code != 0 {
			c.recv.reset()
			c.Error("HTTP parse error")
			return
		}
		if n == 0 {
			return
		}
		hi := &h.hi
		status := h.msg.Status()
		bodyLen := int64(-1) // delimited by close
		chunked := false
		switch {
		case hi.te > 0 && !hi.teChunked:
			c.Error("Invalid Transfer-Encoding")
			return
		case hi.te > 0:
			chunked = true
		case hi.clBad:
			c.Error("HTTP parse error")
			return
		case hi.contentLength >= 0:
			bodyLen = hi.contentLength
		case status == 204 || status == 304 || status/100 == 1:
			bodyLen = 0
		}
		if maxMsg > 0 && bodyLen > int64(maxMsg) {
			c.Error("MG_MAX_RECV_SIZE")
			return
		}
		if bodyLen >= 0 {
			h.need = n + int(bodyLen)
		} else if maxMsg > 0 {
			h.need = n + 2*maxMsg
		}
		if !h.hdrsSent {
			h.hdrsSent = true
			body := buf[n:]
			if chunked {
				body = body[:0]
			} else if bodyLen >= 0 && int64(len(body)) > bodyLen {
				body = body[:bodyLen]
			}
			h.msg.Body = body
			m.emit(c, EvHTTPHdrs, &h.msg)
			if c.closed || c.draining || m.aborted {
				return
			}
		}
		total := 0
		switch {
		case chunked:
			dlen, raw, st := scanChunks(buf[n:], maxMsg)
			switch st {
			case chunkMore:
				return
			case chunkBad:
				c.Error("Invalid chunk")
				return
			case chunkTooBig:
				c.Error("MG_MAX_RECV_SIZE")
				return
			}
			dechunk(buf[n : n+raw])
			h.msg.Body = buf[n : n+int(dlen)]
			total = n + raw
		case bodyLen < 0:
			if maxMsg > 0 && len(buf)-n > maxMsg {
				c.Error("MG_MAX_RECV_SIZE")
				return
			}
			if !atClose {
				return
			}
			h.msg.Body = buf[n:]
			total = len(buf)
		default:
			if int64(len(buf)-n) < bodyLen {
				return
			}
			h.msg.Body = buf[n : n+int(bodyLen)]
			total = n + int(bodyLen)
		}
		h.need = 0
		m.emit(c, EvHTTPMsg, &h.msg)
		h.hdrsSent = false
		if c.closed {
			return
		}
		if !c.draining {
			c.recv.consume(total)
		}
	}
}
