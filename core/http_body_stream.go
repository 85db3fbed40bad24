package core

import (
	"bytes"

	"github.com/pymongoose-go/pymongoose-go/core/codec"
)

// Request body streaming for server adapters (pymongoose.asgi/wsgi). When a
// Manager has it on (SetBodyStreaming), a request whose body is chunked, or
// whose Content-Length is at least the threshold, is not buffered whole:
//
//   - EvHTTPBodyHead delivers the request head (an HTTPMessage with an
//     empty Body) as soon as the head is parsed; the request is then "in
//     progress" as after EvHTTPMsg, and the response is written the same way.
//   - EvHTTPBodyPiece delivers the body as it arrives ([]byte, de-chunked,
//     never empty), each piece once.
//   - EvHTTPBodyEnd (int) ends it: 0 when the body is complete; else the
//     status of the failure (413 over MaxBodySize, 400 bad chunked coding,
//     408 stalled, 499 the client closed before the end). After a failure the
//     engine has answered (when no response was started) or closes the
//     connection: the adapter writes nothing more for that request.
//
// Back-pressure: delivered bytes count as unconsumed until the adapter
// reports them consumed (BodyConsumed); while the window or more is
// unconsumed the engine stops reading the socket, so TCP flow control slows
// the client instead of memory growing. The first BodyConsumed call (the
// application reads) also sends the "100 Continue" a client may wait for.
//
// The events are private to adapters: their numbers are negative, outside
// the MG_EV_* range and MG_EV_USER + n, and only a Manager that asked for
// streaming sees them. Without it a request arrives whole in EvHTTPMsg.
const (
	EvHTTPBodyHead  Event = -11
	EvHTTPBodyPiece Event = -12
	EvHTTPBodyEnd   Event = -13
)

// BodyClientGone is the EvHTTPBodyEnd status for a client that closed the
// connection before the end of the body (nginx's 499).
const BodyClientGone = 499

// minBodyWindow is the smallest window: more than a chunk-size line.
const minBodyWindow = 4 * codec.MaxChunkLine

// bodyStreamConfig is a Manager's streaming setting (threshold 0: off).
type bodyStreamConfig struct {
	threshold int64
	window    int
}

// SetBodyStreaming turns request body streaming on for bodies of at least
// threshold bytes (and every chunked body), with window bytes delivered and
// not yet consumed before reading pauses; threshold 0 turns it off.
func (m *Manager) SetBodyStreaming(threshold int64, window int) {
	if window < minBodyWindow {
		window = minBodyWindow // room for a chunk-size or trailer line
	}
	m.bodyStream = bodyStreamConfig{threshold: threshold, window: window}
}

// Chunked body parse states.
const (
	csSize    = iota // at a chunk-size line
	csData           // inside chunk data (left bytes to go)
	csDataEnd        // at the CRLF after chunk data
	csTrailer        // at trailer lines, up to the empty line
)

// bodyStream is the state of the body being streamed on a connection.
type bodyStream struct {
	chunked  bool
	state    int    // chunked: csSize...
	left     int64  // bytes still to come: of the body (length), of the chunk (chunked)
	total    int64  // de-chunked bytes so far (chunked: bounded by MaxBodySize)
	unacked  int    // delivered, not yet consumed by the adapter
	asked    bool   // the adapter asked for the body (BodyConsumed was called)
	discard  bool   // the response is finished: the rest is read and dropped
	startSeq uint32 // httpConn.sendSeq before the response (another value: one was started)
}

// wantsBodyStream reports whether a request with this framing streams.
func (m *Manager) wantsBodyStream(chunked bool, bodyLen int64) bool {
	t := m.bodyStream.threshold
	return t > 0 && (chunked || bodyLen >= t)
}

// startBodyStream delivers EvHTTPBodyHead for the parsed head (n bytes at
// the front of the receive buffer) and sets the body up to stream. It
// reports whether httpServe goes on.
func (m *Manager) startBodyStream(c *Conn, n int, bodyLen int64, chunked bool) bool {
	h := c.http
	h.msg.Body = h.msg.Body[:0]
	h.bodyLast, h.need = zeroTime, 0
	h.inProgress = true
	h.inMsg = true
	// Set before the event: its handler may already ask for the body
	// (an application started eagerly), which sends the 100 Continue.
	s := &bodyStream{chunked: chunked, left: bodyLen, startSeq: h.sendSeq}
	h.stream = s
	r := m.emit(c, EvHTTPBodyHead, &h.msg)
	h.inMsg = false
	h.hdrsSent = false
	if c.has(fClosed) {
		return false
	}
	if r == ResultException && h.inProgress && h.sendSeq == s.startSeq && !c.has(fClosing) {
		appendReply(c, 500, []byte{}, nil) // as for EvHTTPMsg
		h.inProgress = false
	}
	if c.has(fDraining) || c.has(fClosing) {
		h.stream = nil
		return false
	}
	c.recv.consume(n)
	if !h.inProgress { // answered in the head event
		m.bodyAnswered(c)
	}
	if h.req.close && !h.inProgress {
		c.Drain()
		return false
	}
	return true
}

// bodyAnswered: the response finished before the body ended. A client that
// still waits for "100 Continue" may or may not send the body, so the
// connection closes after the response; else the rest of the body is read
// and dropped and the connection stays open.
func (m *Manager) bodyAnswered(c *Conn) {
	h := c.http
	h.stream.discard = true
	h.stream.unacked = 0
	if h.req.expect100 {
		h.req.close = true
	}
}

// bodyStreamStep delivers what the receive buffer holds of the streamed
// body. It reports true when the body ended and httpServe may parse what
// follows, false when it waits (for bytes, or for the adapter to consume).
func (m *Manager) bodyStreamStep(c *Conn, progress bool) bool {
	h := c.http
	s := h.stream
	lim := m.lim.MaxBodySize
	for {
		if !s.discard && s.unacked >= m.bodyStream.window {
			h.bodyLast = zeroTime // the application is slow, not the client
			return false
		}
		buf := c.recv.data()
		if !s.chunked || s.state == csData {
			if s.left == 0 {
				if !s.chunked {
					m.endBodyStream(c, 0)
					return !c.has(fClosed)
				}
				s.state = csDataEnd
				continue
			}
			if len(buf) == 0 {
				return m.bodyStarved(c, progress)
			}
			k := len(buf)
			if int64(k) > s.left {
				k = int(s.left)
			}
			s.left -= int64(k)
			if !m.deliverBody(c, buf[:k]) {
				return false
			}
			continue
		}
		switch s.state {
		case csSize:
			size, ln, st := codec.ChunkLine(buf)
			if st == codec.ChunkBad {
				m.httpReject(c, 400)
				return false
			}
			if st == codec.ChunkMore {
				return m.bodyStarved(c, progress)
			}
			c.recv.consume(ln)
			s.total += size
			if lim > 0 && s.total > int64(lim) || s.total > 1<<50 {
				m.httpReject(c, 413)
				return false
			}
			s.left = size
			s.state = csData
			if size == 0 {
				s.state = csTrailer
			}
		case csDataEnd:
			if len(buf) < 2 {
				return m.bodyStarved(c, progress)
			}
			if buf[0] != '\r' || buf[1] != '\n' {
				m.httpReject(c, 400)
				return false
			}
			c.recv.consume(2)
			s.state = csSize
		case csTrailer:
			lf := bytes.IndexByte(buf, '\n')
			if lf < 0 {
				if len(buf) > codec.MaxChunkLine {
					m.httpReject(c, 400)
					return false
				}
				return m.bodyStarved(c, progress)
			}
			if lf == 0 || buf[lf-1] != '\r' {
				m.httpReject(c, 400)
				return false
			}
			c.recv.consume(lf + 1)
			if lf == 1 {
				m.endBodyStream(c, 0)
				return !c.has(fClosed)
			}
		}
	}
}

// deliverBody hands one piece to the adapter (dropped in discard mode) and
// consumes it from the receive buffer. It reports whether to go on.
func (m *Manager) deliverBody(c *Conn, piece []byte) bool {
	h := c.http
	s := h.stream
	n := len(piece)
	if !s.discard {
		s.unacked += n
		m.emit(c, EvHTTPBodyPiece, piece)
		if c.has(fClosed) || m.aborted || c.http != h || h.stream != s {
			if !c.has(fClosed) && c.http == h && h.stream == s {
				c.recv.consume(n) // aborted poll: delivered all the same
			}
			return false
		}
	}
	c.recv.consume(n)
	return !c.has(fDraining) && !c.has(fClosing)
}

// bodyStarved: the buffer holds no more of the body. A client that closed
// its side will send no more (499); else the stall clock runs.
func (m *Manager) bodyStarved(c *Conn, progress bool) bool {
	h := c.http
	if c.has(fPeerEOF) {
		m.httpReject(c, BodyClientGone)
		return false
	}
	if progress || h.bodyLast.IsZero() {
		h.bodyLast = m.clock()
	}
	return false
}

// endBodyStream ends the stream with status (0: complete) and tells the
// adapter unless the response is already finished.
func (m *Manager) endBodyStream(c *Conn, status int) {
	h := c.http
	s := h.stream
	h.stream = nil
	h.bodyLast = zeroTime
	h.req.expect100 = false
	if !s.discard {
		m.emit(c, EvHTTPBodyEnd, status)
	}
}

// rejectBodyStream is httpReject for a request whose body streams: the
// adapter learns the status, and the engine's answer only goes out when
// no response was started (else the connection just closes). It reports
// whether the rejection is complete.
func (m *Manager) rejectBodyStream(c *Conn, code int) bool {
	h := c.http
	s := h.stream
	m.endBodyStream(c, code)
	if c.has(fClosed) {
		return true
	}
	started := h.sendSeq != s.startSeq
	h.inProgress = false
	if started || s.discard || code == BodyClientGone {
		h.headStart, h.need = zeroTime, 0
		h.hdrsSent = false
		c.recv.reset()
		c.Drain()
		return true
	}
	return false
}

// bodyWindow returns the bytes that count against the window, and
// whether the window applies: to a streamed body (delivered and not yet
// consumed, plus buffered), and to a server connection waiting for a
// request head (buffered), whose body may stream, so that the bytes read
// along with the head are bounded too.
func (c *Conn) bodyWindow() (used int, on bool) {
	h := c.http
	if h == nil || !h.server || c.m.bodyStream.threshold == 0 {
		return 0, false
	}
	if s := h.stream; s != nil {
		return s.unacked + c.recv.len(), !s.discard
	}
	return c.recv.len(), !h.inProgress
}

// bodyPaused reports that reading stops: the window is full.
func (c *Conn) bodyPaused() bool {
	used, on := c.bodyWindow()
	return on && used >= c.m.bodyStream.window
}

// bodyReadLimit trims a read buffer to the room left in the window.
func (c *Conn) bodyReadLimit(buf []byte) []byte {
	if used, on := c.bodyWindow(); on {
		if room := c.m.bodyStream.window - used; room < len(buf) {
			return buf[:room] // > 0: the caller checked bodyPaused
		}
	}
	return buf
}

// BodyConsumed is the adapter's report that the application took n more
// bytes of the streamed body (n may be 0: it asks for the body). The first
// call sends "100 Continue" to a client waiting for it; reading resumes
// once the unconsumed bytes are below the window again. Without a body
// streaming on c it does nothing.
func (c *Conn) BodyConsumed(n int) {
	h := c.http
	if c.has(fClosed) || h == nil || h.stream == nil || h.stream.discard {
		return
	}
	s := h.stream
	s.unacked -= n
	if s.unacked < 0 {
		s.unacked = 0
	}
	if !s.asked {
		s.asked = true
		if h.req.expect100 && h.sendSeq == s.startSeq && !c.has(fDraining) {
			h.req.expect100 = false
			c.send.write(continue100)
			c.afterQueue()
			s.startSeq = h.sendSeq // not the response
		}
	}
	if n > 0 && !c.bodyPaused() {
		h.reparse = true // deliver what is buffered, read again
		c.m.kick(c)
	}
}

// BodyUnconsumed is the number of streamed body bytes delivered to the
// adapter and not yet reported consumed (0 when no body streams).
func (c *Conn) BodyUnconsumed() int {
	h := c.http
	if h == nil || h.stream == nil {
		return 0
	}
	return h.stream.unacked
}
