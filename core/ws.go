package core

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/pymongoose-go/pymongoose-go/core/codec"
)

// wsConn is the WebSocket engine of one connection (docs/api.md §8): it parses
// frames from the receive buffer and delivers EvWSMsg/EvWSCtl. On a client
// connection it first waits for the 101 response (§19.2).
type wsConn struct {
	server    bool // accepted connection: frames must be masked
	handshake bool // client: the 101 response has not arrived yet
	need      int  // size of the frame being received, once known

	fragOn    bool // a fragmented message is being reassembled
	fragFlags byte // its first frame's header byte
	frag      []byte

	msg  HTTPMessage // client: the handshake response
	hi   codec.HeadInfo
	hdrs [codec.MaxStoredHeaders]codec.HeaderSpan
}

// recvNeed lets the receive limit grow by the frame being received (§13:
// max_recv_size bounds only what is queued behind it).
func (w *wsConn) recvNeed() int { return w.need }

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// WSAccept is base64(SHA1(key + GUID)), the Sec-WebSocket-Accept value.
func WSAccept(key []byte) string {
	h := sha1.New()
	h.Write(key)
	h.Write([]byte(wsGUID))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

var ws426Body = []byte("WS upgrade expected\n")

// ErrWSProtocol: the subprotocol the server chose was not offered.
var ErrWSProtocol = errors.New("Sec-WebSocket-Protocol in extra_headers must be one of the subprotocols the client offered")

// WSUpgrade answers a WebSocket upgrade request (docs/api.md §8.1). msg is the
// request (its Sec-WebSocket-Key and Sec-WebSocket-Protocol headers are
// used); extra is preformatted "Name: value\r\n" lines. Without a key the
// request is answered 426 and the connection drains. Otherwise the 101
// response is queued, the connection switches to the WebSocket engine and
// EvWSOpen is delivered with msg before WSUpgrade returns. Either way the
// HTTP response in progress is finished.
//
// The server selects at most one subprotocol (RFC 6455 §4.2.2): the 101
// carries a Sec-WebSocket-Protocol header only when extra has one, and
// its value must be one of the values the client offered; otherwise
// WSUpgrade returns ErrWSProtocol and queues nothing.
func (c *Conn) WSUpgrade(msg *HTTPMessage, extra []byte) error {
	if c.has(fClosed) || c.m == nil {
		return ErrConnClosed
	}
	if chosen, ok := wsChosenProtocol(extra); ok && !wsOffered(msg, chosen) {
		return ErrWSProtocol
	}
	c.httpSwitching()
	key, ok := msg.Header("Sec-WebSocket-Key")
	if !ok {
		appendReply(c, 426, []byte{}, ws426Body)
		c.Drain()
		return nil
	}
	q := &c.send
	q.writeString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ")
	q.writeString(WSAccept(key))
	q.writeString("\r\n")
	q.write(extra)
	q.writeString("\r\n")
	c.afterQueue()
	c.httpStop()
	c.setProtocol(&wsConn{server: c.parent != nil})
	c.set(fWebsocket)
	c.m.emit(c, EvWSOpen, msg)
	return nil
}

// wsChosenProtocol returns the value of the Sec-WebSocket-Protocol line
// in preformatted header lines (ok false when there is none). Several
// such lines yield "," so that the choice is never one offered value.
func wsChosenProtocol(extra []byte) (chosen []byte, ok bool) {
	const name = "sec-websocket-protocol:"
	for len(extra) > 0 {
		end := 0
		for end < len(extra) && extra[end] != '\n' {
			end++
		}
		line := extra[:end]
		if len(line) >= len(name) && codec.EqualFold(line[:len(name)], name) {
			if ok {
				return []byte(","), true
			}
			chosen, ok = trimLine(line[len(name):]), true
		}
		if end == len(extra) {
			break
		}
		extra = extra[end+1:]
	}
	return chosen, ok
}

// wsOffered reports whether p is one of the comma-separated values of the
// request's Sec-WebSocket-Protocol headers.
func wsOffered(msg *HTTPMessage, p []byte) bool {
	if len(p) == 0 {
		return false
	}
	for _, hs := range msg.Headers {
		if !codec.EqualFold(msg.Bytes(hs.Name), "Sec-WebSocket-Protocol") {
			continue
		}
		v := msg.Bytes(hs.Value)
		for len(v) > 0 {
			i := bytes.IndexByte(v, ',')
			if i < 0 {
				i = len(v)
			}
			if bytes.Equal(trimLine(v[:i]), p) {
				return true
			}
			if i == len(v) {
				break
			}
			v = v[i+1:]
		}
	}
	return false
}

// WSConnect opens a WebSocket client connection (docs/api.md §19.2): Connect,
// then the upgrade request is queued at once. o.HTTP is ignored.
func (m *Manager) WSConnect(url string, o ConnectOptions) (*Conn, error) {
	init := o.Init
	c, err := m.Connect(url, ConnectOptions{Init: func(c *Conn) {
		w := &wsConn{handshake: true}
		w.msg.Headers = w.hdrs[:0]
		c.setProtocol(w)
		if init != nil {
			init(c)
		}
	}})
	if err != nil || c.has(fClosed) {
		return c, err
	}
	var k [16]byte
	rand.Read(k[:])
	q := &c.send
	q.writeString("GET ")
	q.writeString(wsURI(url))
	q.writeString(" HTTP/1.1\r\nUpgrade: websocket\r\nHost: ")
	q.writeString(wsHost(url))
	q.writeString("\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ")
	q.writeString(base64.StdEncoding.EncodeToString(k[:]))
	q.writeString("\r\n\r\n")
	c.afterQueue()
	return c, nil
}

// wsURI is the path and query of url, or "/".
func wsURI(url string) string {
	rest := url
	if i := strings.Index(url, "://"); i >= 0 {
		rest = url[i+3:]
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		return rest[i:]
	}
	return "/"
}

// wsHost is the host of url, without port or credentials.
func wsHost(url string) string {
	h := codec.ParseURL(url).Host
	if strings.IndexByte(h, ':') >= 0 {
		return "[" + h + "]"
	}
	return h
}

// onRead implements protocol: handshake (client), then frames.
func (w *wsConn) onRead(m *Manager, c *Conn) {
	for !c.has(fClosed) && !c.has(fClosing) && !c.has(fDraining) && !m.aborted {
		buf := c.recv.data()
		if w.handshake {
			if !w.readHandshake(m, c, buf) {
				return
			}
			continue
		}
		if len(buf) == 0 {
			w.need = 0
			return
		}
		h, complete, err := parseWSHeader(buf)
		if err != "" {
			w.fail(c, err)
			return
		}
		if !complete {
			w.need = 0
			return
		}
		if w.server && !h.masked {
			w.fail(c, "unmasked WS frame from client")
			return
		}
		op := h.op()
		switch {
		case op == WSOpContinue && !w.fragOn:
			w.fail(c, "unexpected WS continuation frame")
			return
		case (op == WSOpText || op == WSOpBinary) && w.fragOn:
			w.fail(c, "WS data frame inside a fragmented message")
			return
		}
		if max := uint64(m.lim.MaxMessageSize); max > 0 {
			total := h.plen
			if op == WSOpContinue {
				total += uint64(len(w.frag))
			}
			if total > max {
				w.fail(c, "MG_MAX_RECV_SIZE")
				return
			}
		}
		if h.plen > wsMaxNeed || uint64(len(buf)-h.hlen) < h.plen {
			w.need = wsMaxNeed
			if h.plen < wsMaxNeed {
				w.need = h.hlen + int(h.plen)
			}
			return
		}
		w.need = 0
		total := h.hlen + int(h.plen)
		payload := buf[h.hlen:total]
		if h.masked {
			wsMask(payload, h.mask, 0)
		}
		if !w.frame(m, c, &h, payload) {
			return
		}
		if c.has(fClosed) {
			return
		}
		if !c.has(fDraining) {
			c.recv.consume(total)
		}
	}
}

// fail reports a protocol error and closes (the buffered input is useless).
func (w *wsConn) fail(c *Conn, text string) {
	w.need = 0
	w.frag, w.fragOn = nil, false
	c.Error(text)
}

// frame delivers the events of one complete frame. It reports false when
// the connection went away during dispatch.
func (w *wsConn) frame(m *Manager, c *Conn, h *wsHeader, payload []byte) bool {
	switch h.op() {
	case WSOpText, WSOpBinary:
		if h.fin() {
			wm := WSMessage{Data: payload, Flags: h.b0}
			m.emit(c, EvWSMsg, &wm)
		} else {
			w.fragOn = true
			w.fragFlags = h.b0
			w.frag = append(w.frag[:0], payload...)
		}
	case WSOpContinue:
		w.frag = append(w.frag, payload...)
		m.emit(c, EvWSCtl, nil)
		if h.fin() {
			data, flags := w.frag, w.fragFlags
			w.frag, w.fragOn = nil, false
			if !c.has(fClosed) && !c.has(fClosing) && !c.has(fDraining) {
				wm := WSMessage{Data: data, Flags: flags}
				m.emit(c, EvWSMsg, &wm)
			}
		}
	case WSOpPing:
		c.WSSend(payload, WSOpPong)
		m.emit(c, EvWSCtl, nil)
	case WSOpPong:
		m.emit(c, EvWSCtl, nil)
	case WSOpClose:
		echo := append([]byte(nil), payload...)
		m.emit(c, EvWSCtl, nil)
		if c.has(fClosed) || c.has(fClosing) {
			return false
		}
		c.WSSend(echo, WSOpClose)
		c.Drain()
		return false
	}
	return !c.has(fClosed)
}

// readHandshake parses the server's response head on a client connection.
// It reports whether the connection switched to frames.
func (w *wsConn) readHandshake(m *Manager, c *Conn, buf []byte) bool {
	if len(buf) == 0 {
		return false
	}
	n, code := codec.ParseHead(buf, false, m.lim.MaxHeadSize, 0, &w.msg, &w.hi)
	if code == 0 && n > 0 && !strings.HasPrefix(string(w.msg.MethodBytes()), "HTTP/") {
		code = 400
	}
	if code != 0 {
		c.Error("not http")
		return false
	}
	if n == 0 {
		return false
	}
	if n < 15 || !strings.HasPrefix(string(w.msg.URIBytes()), "101") {
		c.Error("ws handshake error")
		return false
	}
	w.handshake = false
	c.set(fWebsocket)
	w.msg.Body = buf[n:n]
	m.emit(c, EvWSOpen, &w.msg)
	if c.has(fClosed) || c.has(fClosing) || c.has(fDraining) {
		return false
	}
	c.recv.consume(n)
	return true
}
