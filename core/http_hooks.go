package core

import "time"

// The loop's hooks into a connection's HTTP engine: what the rest of the
// engine (turn, I/O, close, batching, TLS, WebSocket, static files,
// replies) asks of it or tells it. Only the http_*.go files read
// httpConn's fields.

// httpBusy reports a response in progress.
func (c *Conn) httpBusy() bool { return c.http != nil && c.http.inProgress }

// httpIdle reports that the HTTP engine, if any, has nothing left to do:
// no response in progress and no buffered request waiting to be parsed.
func (c *Conn) httpIdle() bool {
	h := c.http
	return h == nil || !h.inProgress && !h.reparse
}

// httpReparse reports buffered requests that the next turn must parse.
func (c *Conn) httpReparse() bool { return c.http != nil && c.http.reparse }

// httpServer reports the server side of an HTTP connection.
func (c *Conn) httpServer() bool { return c.http != nil && c.http.server }

// httpAfterPoll is called when a response was in progress before EvPoll:
// if the POLL handler finished it, the buffered requests are parsed in this
// turn and a synthetic EvRead follows (§2.2 step 3.2).
func (c *Conn) httpAfterPoll() {
	if h := c.http; h != nil && !h.inProgress {
		h.reparse, h.pollClear = true, true
	}
}

// httpRead runs the HTTP engine on new input (got) or on the requests a
// finished response left buffered. It reports whether EvRead is due: new
// bytes, a synthetic READ, or a parsed message.
func (m *Manager) httpRead(c *Conn, got bool) (read bool) {
	h := c.http
	// A streamed body also learns of the peer's end of file (http_body_stream.go).
	if h == nil || c.has(fDraining) || c.has(fClosing) || !got && !h.reparse && !(h.stream != nil && c.has(fPeerEOF)) {
		return got
	}
	synthetic := h.pollClear
	h.reparse, h.pollClear = false, false
	parsed := false
	if h.server {
		parsed = m.httpServe(c, got)
	} else {
		m.httpClientParse(c, false)
	}
	if m.aborted && !c.has(fClosed) {
		h.reparse = true // buffered requests wait for the next Process
	}
	return got || synthetic || parsed
}

// httpRecvNeed is what the message being received adds to the receive
// limit (it has its own limits): its known size, else maxHead for a head.
// Nothing while a response is in progress.
func (c *Conn) httpRecvNeed(maxHead int) int {
	h := c.http
	if h == nil || h.inProgress {
		return 0
	}
	if h.need == 0 {
		return maxHead
	}
	return h.need
}

// httpClocks are the request timeout clocks, zero when not running: when
// the head began to arrive and when the body last progressed (server side).
func (c *Conn) httpClocks() (head, body time.Time) {
	if h := c.http; h != nil && h.server {
		return h.headStart, h.bodyLast
	}
	return
}

// httpTimeout answers a request past its deadline (connDeadline) with 408
// and writes it at once.
func (m *Manager) httpTimeout(c *Conn) {
	m.httpReject(c, 408)
	if c.established() {
		m.writeStep(c)
	}
}

// httpQueued notes output queued on c (the 500 of a failed handler is
// only sent when the handler queued nothing).
func (c *Conn) httpQueued() {
	if h := c.http; h != nil {
		h.sendSeq++
	}
}

// httpStopInput is Drain's hook: no buffered request is parsed any more
// and no request timeout runs.
func (c *Conn) httpStopInput() {
	if h := c.http; h != nil {
		h.reparse, h.pollClear = false, false
		h.headStart, h.bodyLast = zeroTime, zeroTime
	}
}

// httpSwitching ends the response in progress of a server connection
// whose request is answered by a protocol switch (the 101).
func (c *Conn) httpSwitching() {
	if h := c.http; h != nil && h.server {
		h.inProgress = false
	}
}

// httpStop detaches the HTTP engine once the connection speaks another
// protocol; httpServe notices (c.http != h). The state is not recycled:
// httpServe, whose handler may be the caller, still uses it.
func (c *Conn) httpStop() { c.http = nil }

// httpRawBody reports a streamed response to an HTTP/1.0 request: its
// data goes out unframed and the close ends it.
func (c *Conn) httpRawBody() bool { return c.http != nil && c.http.req.rawBody }

// httpOutsideMsg reports an HTTP connection whose EvHTTPMsg is not being
// delivered (during it, httpServe acts once the handler returns).
func (c *Conn) httpOutsideMsg() bool { return c.http != nil && !c.http.inMsg }

// httpPeerClosed ends a client's close-delimited response (§2.5); called
// before EvClose.
func (m *Manager) httpPeerClosed(c *Conn) {
	if h := c.http; h != nil && !h.server && !c.has(fDraining) {
		m.httpClientParse(c, true)
	}
}

// httpFree recycles the HTTP state of a closed connection.
func (m *Manager) httpFree(c *Conn) {
	if h := c.http; h != nil {
		c.http = nil
		m.releaseHTTP(h)
	}
}
