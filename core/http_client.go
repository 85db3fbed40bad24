package core

import (
	"bytes"
	"encoding/base64"

	"github.com/pymongoose-go/pymongoose-go/core/codec"
)

// outTracker follows the requests the user writes on a client connection
// (the engine never writes requests itself, §7.3) just enough to know
// which responses answer a HEAD request and therefore have no body.
type outTracker struct {
	head     []byte // partial head of the request being written
	bodyLeft int64  // body bytes of the current request still to come
	lost     bool   // framing not followed (chunked or oversized request)
	heads    []bool // one entry per request written: was it HEAD?

	// Resume point of the chunked response body being received: raw
	// offset of the next chunk line (from the body start) and the data
	// bytes before it, so that each read scans only the new chunks.
	chunkPos  int
	chunkDlen int64
}

// maxTrackedHead bounds the buffered head of an outgoing request.
const maxTrackedHead = 65536

// note follows b, the next bytes of the outgoing stream.
func (t *outTracker) note(b []byte) {
	for len(b) > 0 && !t.lost {
		if t.bodyLeft > 0 {
			k := int64(len(b))
			if k > t.bodyLeft {
				k = t.bodyLeft
			}
			t.bodyLeft -= k
			b = b[k:]
			continue
		}
		if len(t.head) == 0 {
			// Skip blank lines between requests.
			for len(b) > 0 && (b[0] == '\r' || b[0] == '\n') {
				b = b[1:]
			}
			if len(b) == 0 {
				return
			}
		}
		start := len(t.head)
		t.head = append(t.head, b...)
		end := headEnd(t.head, start)
		if end < 0 {
			if len(t.head) > maxTrackedHead {
				t.lost = true
				t.head = nil
			}
			return
		}
		rest := len(t.head) - end
		b = b[len(b)-rest:]
		var msg HTTPMessage
		var hi codec.HeadInfo
		n, code := codec.ParseHead(t.head[:end], true, 0, 0, &msg, &hi)
		t.head = t.head[:0]
		if code != 0 || n == 0 || hi.TE > 0 {
			t.lost = true
			return
		}
		t.heads = append(t.heads, codec.EqualFold(msg.MethodBytes(), "HEAD"))
		if hi.ContentLength > 0 {
			t.bodyLeft = hi.ContentLength
		}
	}
}

// headEnd finds the end of a head (after the blank line) in b, scanning
// from a little before from; -1 if not complete.
func headEnd(b []byte, from int) int {
	i := from - 3
	if i < 0 {
		i = 0
	}
	for ; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		if i+1 < len(b) && b[i+1] == '\n' {
			return i + 2
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			return i + 3
		}
	}
	return -1
}

// headPending reports whether the oldest unanswered request was HEAD.
func (t *outTracker) headPending() bool { return len(t.heads) > 0 && t.heads[0] }

// answered drops the oldest request once its final response arrived.
func (t *outTracker) answered() {
	if len(t.heads) > 0 {
		t.heads = t.heads[1:]
	}
}

// noteOutgoing is called for every byte queued on a client HTTP connection.
func (c *Conn) noteOutgoing(b []byte) {
	if h := c.http; h != nil && !h.server {
		h.out.note(b)
	}
}

// HTTPBasicAuth queues "Authorization: Basic <base64(user[:pass])>" CRLF
// (§5.8); the request line and the blank line are the caller's.
func (c *Conn) HTTPBasicAuth(user, pass string) error {
	cred := user
	if pass != "" {
		cred += ":" + pass
	}
	line := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(cred)) + "\r\n"
	return c.Send([]byte(line))
}

// HTTPSSE queues one server-sent event as a single HTTP chunk (§5.8):
// "event: <type>\ndata: <data>\n\n". It does not end the response.
func (c *Conn) HTTPSSE(eventType, data []byte) {
	var b bytes.Buffer
	b.Grow(len(eventType) + len(data) + 16)
	b.WriteString("event: ")
	b.Write(eventType)
	b.WriteString("\ndata: ")
	b.Write(data)
	b.WriteString("\n\n")
	c.HTTPChunk(b.Bytes())
}

// httpClientParse parses responses on a client connection (§7.3). atClose
// delivers a close-delimited response. Errors keep the reference texts.
func (m *Manager) httpClientParse(c *Conn, atClose bool) {
	h := c.http
	if h.inMsg {
		return // close() from the handler of a response: no second delivery
	}
	maxMsg := m.lim.MaxMessageSize
	for !c.has(fClosed) && !c.has(fDraining) && !m.aborted {
		buf := c.recv.data()
		if len(buf) == 0 {
			h.need = 0
			return
		}
		n, code := codec.ParseHead(buf, false, 0, 0, &h.msg, &h.hi)
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
		interim := status/100 == 1
		bodyLen := int64(-1) // delimited by close
		chunked := false
		switch {
		case interim || status == 204 || status == 304 || h.out.headPending():
			bodyLen = 0 // RFC 9112 §6.3: no body whatever the headers say
		case hi.TE > 0 && !hi.TEChunked:
			c.Error("Invalid Transfer-Encoding")
			return
		case hi.TE > 0:
			chunked = true
		case hi.CLBad:
			c.Error("HTTP parse error")
			return
		case hi.ContentLength >= 0:
			bodyLen = hi.ContentLength
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
			h.inMsg = true
			m.emit(c, EvHTTPHdrs, &h.msg)
			h.inMsg = false
			if c.has(fClosed) || c.has(fDraining) || m.aborted {
				return
			}
		}
		total := 0
		switch {
		case chunked:
			pos, dlen, raw, st := codec.ResumeChunks(buf[n:], h.out.chunkPos, h.out.chunkDlen, maxMsg)
			h.out.chunkPos, h.out.chunkDlen = pos, dlen
			switch st {
			case codec.ChunkMore:
				return
			case codec.ChunkBad:
				c.Error("Invalid chunk")
				return
			case codec.ChunkTooBig:
				c.Error("MG_MAX_RECV_SIZE")
				return
			}
			codec.Dechunk(buf[n : n+raw])
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
		h.out.chunkPos, h.out.chunkDlen = 0, 0
		if !interim {
			h.out.answered()
		}
		h.inMsg = true
		m.emit(c, EvHTTPMsg, &h.msg)
		h.inMsg = false
		h.hdrsSent = false
		if c.has(fClosed) {
			return
		}
		if !c.has(fDraining) {
			c.recv.consume(total)
		}
	}
}
