package core

import (
	"time"

	"github.com/pymongoose-go/pymongoose-go/core/codec"
)

// httpConn is the HTTP engine state of one connection.
type httpConn struct {
	server     bool // accepted conn of an HTTP listener (else client side)
	inProgress bool // "response in progress" (§7.4)
	inMsg      bool // EvHTTPMsg is being dispatched
	reparse    bool // response finished outside EvHTTPMsg: parse buffered requests
	pollClear  bool // ... and it happened during POLL: synthetic EvRead (§2.2 3.2)
	hdrsSent   bool // EvHTTPHdrs delivered for the message at the parse position
	inHdrs     bool // EvHTTPHdrs is being dispatched
	early      bool // ... and its handler finished a response (the request is refused)
	req        reqFraming
	need       int    // known size of that message (bounds the receive buffer)
	sendSeq    uint32 // bumped by every queued output (the 500 of a failed handler)
	headStart  time.Time
	bodyLast   time.Time
	msg        HTTPMessage
	hi         codec.HeadInfo
	hdrs       [codec.MaxStoredHeaders]codec.HeaderSpan
	out        outTracker // client side: requests written (http_client.go)

	stream *bodyStream // request body being streamed (http_body_stream.go)
}

func newHTTPConn(server bool) *httpConn {
	h := httpPool.Get().(*httpConn) // recycle.go
	*h = httpConn{server: server}
	h.msg.Headers = h.hdrs[:0]
	return h
}

var headerConnClose = []byte("Connection: close\r\n")

// httpServe parses buffered requests and delivers EvHTTPHdrs/EvHTTPMsg for
// each complete one, until the buffer is exhausted, a response is in
// progress, or the connection drains or closes. progress says new bytes
// arrived. It reports whether any HTTP event was delivered.
func (m *Manager) httpServe(c *Conn, progress bool) (parsed bool) {
	h := c.http
	lim := &m.lim
	for !c.has(fClosed) && !c.has(fClosing) && !c.has(fDraining) && !m.aborted && c.http == h { // c.http changes on ws_upgrade
		if h.stream != nil {
			if !m.bodyStreamStep(c, progress) {
				break
			}
			parsed = true
			continue
		}
		if h.inProgress {
			break
		}
		buf := c.recv.data()
		// Tolerate empty lines before a request (RFC 9112 §2.2).
		if len(buf) > 0 && buf[0] == '\n' {
			c.recv.consume(1)
			continue
		}
		if len(buf) > 1 && buf[0] == '\r' && buf[1] == '\n' {
			c.recv.consume(2)
			continue
		}
		if len(buf) == 0 || len(buf) == 1 && buf[0] == '\r' {
			h.headStart, h.need = zeroTime, 0
			break
		}
		n, code := codec.ParseHead(buf, true, lim.MaxHeadSize, lim.MaxHeaders, &h.msg, &h.hi)
		if code != 0 {
			m.httpReject(c, code)
			break
		}
		if n == 0 {
			if h.headStart.IsZero() {
				h.headStart = m.clock()
			}
			h.need = 0
			break
		}
		if h.hi.HeaderLines > len(h.msg.Headers) && m.allHeaders {
			// More headers than stored: keep them all, in room for as many
			// as this head has (allocated only for such a connection).
			if cap(h.msg.Headers) < h.hi.HeaderLines {
				h.msg.Headers = make([]codec.HeaderSpan, 0, h.hi.HeaderLines)
			}
			codec.ParseHeadStoring(buf, true, lim.MaxHeadSize, lim.MaxHeaders, h.hi.HeaderLines, &h.msg, &h.hi)
		}
		h.headStart = zeroTime
		hi := &h.hi
		if !h.hdrsSent {
			h.req = newReqFraming(&h.msg, hi)
		}
		var bodyLen int64
		chunked := false
		switch {
		case hi.CLBad, hi.TE > 1, hi.TE == 1 && !hi.TEChunked, hi.TE > 0 && hi.ContentLength >= 0:
			m.httpReject(c, 400)
			return true
		case hi.ContentLength >= 0:
			bodyLen = hi.ContentLength
			if lim.MaxBodySize > 0 && bodyLen > int64(lim.MaxBodySize) {
				m.httpReject(c, 413)
				return true
			}
			h.need = n + int(bodyLen)
		case hi.TE == 1:
			chunked = true
			h.need = 0
			if lim.MaxBodySize > 0 {
				h.need = n + 2*lim.MaxBodySize + 65536 // framing overhead
			}
		case codec.IsBodyMethod(h.msg.MethodBytes()):
			c.recv.consume(n)
			appendReply(c, 411, []byte{}, nil)
			continue
		}
		if !h.hdrsSent {
			h.hdrsSent = true
			body := buf[n:]
			if chunked {
				body = body[:0]
			} else if int64(len(body)) > bodyLen {
				body = body[:bodyLen]
			}
			h.msg.Body = body
			h.inHdrs = true
			m.emit(c, EvHTTPHdrs, &h.msg)
			h.inHdrs = false
			parsed = true
			if c.has(fClosed) || c.has(fClosing) || c.has(fDraining) || m.aborted {
				break
			}
			if h.early {
				// Answered before the body: it may or may not follow, so
				// the connection closes after the response.
				m.dropRequest(c)
				return true
			}
		}
		if m.bodyStream.threshold > 0 && m.wantsBodyStream(chunked, bodyLen) {
			parsed = true
			if !m.startBodyStream(c, n, bodyLen, chunked) {
				break
			}
			continue
		}
		total := 0
		if chunked {
			dlen, raw, st := codec.ScanChunks(buf[n:], lim.MaxBodySize)
			if st == codec.ChunkBad || st == codec.ChunkTooBig {
				code := 400
				if st == codec.ChunkTooBig {
					code = 413
				}
				m.httpReject(c, code)
				return true
			}
			if st == codec.ChunkMore {
				m.bodyWait(c, progress)
				break
			}
			codec.Dechunk(buf[n : n+raw])
			h.msg.Body = buf[n : n+int(dlen)]
			total = n + raw
		} else {
			if int64(len(buf)-n) < bodyLen {
				m.bodyWait(c, progress)
				break
			}
			h.msg.Body = buf[n : n+int(bodyLen)]
			total = n + int(bodyLen)
		}
		h.bodyLast, h.need = zeroTime, 0
		h.req.expect100 = false // the whole body is here
		h.inProgress = true
		h.inMsg = true
		seq := h.sendSeq
		r := m.emit(c, EvHTTPMsg, &h.msg)
		h.inMsg = false
		h.hdrsSent = false
		parsed = true
		if c.has(fClosed) {
			break
		}
		if r == ResultException && h.inProgress && h.sendSeq == seq && !c.has(fClosing) {
			// §7.6: the handler failed before starting a response.
			appendReply(c, 500, []byte{}, nil)
			h.inProgress = false
		}
		if !c.has(fDraining) {
			c.recv.consume(total)
		}
		if h.req.close && !h.inProgress {
			c.Drain() // finished in the callback; the request or the response asked to close
		}
	}
	return parsed
}

// bodyWait starts or refreshes the body stall clock. A client waiting
// for "100 Continue" gets it now: the head was accepted (limits, and the
// EvHTTPHdrs handler did not answer) and the engine waits for the body.
func (m *Manager) bodyWait(c *Conn, progress bool) {
	h := c.http
	if progress || h.bodyLast.IsZero() {
		h.bodyLast = m.clock()
	}
	if h.req.expect100 {
		h.req.expect100 = false
		c.send.write(continue100)
		c.afterQueue()
	}
}

var continue100 = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// dropRequest ends a request whose EvHTTPHdrs handler already answered it:
// no EvHTTPMsg, the rest of the input is dropped, the connection drains.
func (m *Manager) dropRequest(c *Conn) {
	h := c.http
	h.hdrsSent, h.early = false, false
	h.headStart, h.bodyLast, h.need = zeroTime, zeroTime, 0
	c.Drain()
}

// httpReject answers a request the engine will not serve (§6.5): exactly
// the bytes of Reply(code, "Connection: close", ""), then the rest of the
// input is dropped and the connection drains.
func (m *Manager) httpReject(c *Conn, code int) {
	h := c.http
	if h.stream != nil && m.rejectBodyStream(c, code) {
		return
	}
	h.headStart, h.bodyLast = zeroTime, zeroTime
	h.hdrsSent = false
	h.need = 0
	c.recv.reset()
	appendReply(c, code, headerConnClose, nil)
	c.Drain()
}

// finishResponse clears "response in progress" (§7.4). Outside the
// request's own EvHTTPMsg, buffered requests are parsed in the next turn,
// or the connection drains when the response was the last one.
func (c *Conn) finishResponse() {
	h := c.http
	if h == nil || !h.server {
		return
	}
	if h.inHdrs {
		h.early = true // answered from EvHTTPHdrs (httpServe)
		return
	}
	if !h.inProgress {
		return
	}
	h.inProgress = false
	if h.stream != nil {
		c.m.bodyAnswered(c)
	}
	switch {
	case h.inMsg: // httpServe goes on after the callback
	case h.req.close:
		c.Drain()
	default:
		h.reparse = true
		c.m.kick(c)
	}
}

// StoreAllHeaders makes the Manager's HTTP servers keep every header of a
// request (up to Limits.MaxHeaders lines, past which it gets 431) instead
// of the first 30 as Mongoose does: a server adapter (pymongoose.asgi and
// .wsgi) must give the application all of them, as uvicorn and gunicorn do.
func (m *Manager) StoreAllHeaders() { m.allHeaders = true }
