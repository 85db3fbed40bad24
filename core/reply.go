package core

import (
	"errors"
	"strconv"
)

// Errors returned by Send.
var (
	ErrSendFailed = errors.New("mg_send failed")
	ErrConnClosed = errors.New("connection has been closed")
)

// Send queues b (copied). TCP output is written by the loop; UDP sends one
// datagram now and fires EvWrite before returning. Empty data is an error.
func (c *Conn) Send(b []byte) error {
	if c.has(fClosed) || c.m == nil {
		return ErrConnClosed
	}
	if len(b) == 0 {
		return ErrSendFailed
	}
	if c.has(fUDP) {
		return c.sendDatagram(b)
	}
	c.queueOutput(b)  // a server's response head gets its framing (http_framing.go)
	c.noteOutgoing(b) // HTTP client: which responses answer HEAD (http_client.go)
	c.afterQueue()
	return nil
}

func (c *Conn) sendDatagram(b []byte) error {
	if c.fd < 0 || c.has(fInClose) {
		return ErrSendFailed
	}
	var err error
	if c.has(fListening) {
		if c.remote.port == 0 && !c.remote.hasIP() {
			return ErrSendFailed
		}
		ra := c.remote.addr()
		sa, _ := sockaddrOf(ra.IP, ra.Port)
		err = sysSendTo(c.fd, b, sa)
	} else if _, e := sysSend(c.fd, b); e != 0 {
		err = e
	}
	if err != nil {
		return ErrSendFailed
	}
	if c.local.port == 0 {
		c.local = sockName(c.fd)
	}
	c.m.emit(c, EvWrite, nil)
	return nil
}

// Reply queues a complete HTTP/1.1 response in the exact format of §5.8:
// status line with the reason of §7.7, headers (preformatted "Name: value\r\n"
// lines; nil means "Content-Type: text/plain", a non-nil empty slice means
// no header lines), a Content-Length field
// padded to 12 characters, the blank line and the binary-safe body. It
// marks the HTTP response finished (§7.4).
//
// Answering a request on a server connection, the response follows
// RFC 9110/9112: no Content-Length and no body for 1xx, 204 and 304; for
// HEAD the Content-Length of body without the body; a Connection header
// when the connection closes after it (or keeps an HTTP/1.0 client's
// connection open). A 1xx other than 101 is interim: the response is
// not finished.
func (c *Conn) Reply(code int, headers []byte, body []byte) {
	if c.has(fClosed) || c.m == nil {
		return
	}
	appendReply(c, code, headers, body)
	if code >= 100 && code < 200 && code != 101 {
		return
	}
	c.finishResponse()
}

// SendResponse queues b, raw bytes of an HTTP response the caller frames
// itself (a server adapter writing the application's own status line and
// headers); end marks the response finished (§7.4) once b is queued, which
// lets the next pipelined request be parsed. b may be empty when end is set.
// b goes out unchanged (no framing of http_framing.go), but a request that
// asked to close (Connection: close, HTTP/1.0 without keep-alive) still
// drains the connection once the response is finished.
func (c *Conn) SendResponse(b []byte, end bool) error {
	if c.has(fClosed) || c.m == nil {
		return ErrConnClosed
	}
	if len(b) > 0 {
		c.send.write(b)
		c.afterQueue()
	}
	if end {
		c.finishResponse()
	}
	return nil
}

// HTTPChunk queues one chunk; empty data queues the terminating chunk and
// marks the response finished.
func (c *Conn) HTTPChunk(b []byte) {
	if c.has(fClosed) || c.m == nil {
		return
	}
	q := &c.send
	if c.httpRawBody() {
		// HTTP/1.0 client: the data as is; the close ends the body.
		if len(b) == 0 {
			c.finishResponse()
			return
		}
		q.write(b)
		c.afterQueue()
		return
	}
	if len(b) == 0 {
		q.writeString("0\r\n\r\n")
		c.afterQueue()
		c.finishResponse()
		return
	}
	q.reserve(len(b) + 20)
	q.b = strconv.AppendInt(q.b, int64(len(b)), 16)
	q.b = append(q.b, "\r\n"...)
	q.b = append(q.b, b...)
	q.b = append(q.b, "\r\n"...)
	c.afterQueue()
}

var defaultHeaders = []byte("Content-Type: text/plain\r\n")

// appendReply writes a reply-format response into the send buffer without
// touching the HTTP state.
func appendReply(c *Conn, code int, headers, body []byte) {
	if headers == nil {
		headers = defaultHeaders
	}
	length, withLength := len(body), !noContent(code)
	var conn []byte
	if r := c.answering(); r != nil {
		conn = c.connectionLine(r, code, headers)
		if r.head || !withLength {
			body = nil
		}
	} else if !withLength {
		body = nil
	}
	reason := StatusText(code)
	q := &c.send
	q.reserve(9 + 12 + len(reason) + len(headers) + len(conn) + 36 + len(body))
	q.b = append(q.b, "HTTP/1.1 "...)
	q.b = strconv.AppendInt(q.b, int64(code), 10)
	q.b = append(q.b, ' ')
	q.b = append(q.b, reason...)
	q.b = append(q.b, "\r\n"...)
	q.b = append(q.b, headers...)
	q.b = append(q.b, conn...)
	if withLength {
		q.b = append(q.b, "Content-Length: "...)
		start := len(q.b)
		q.b = strconv.AppendInt(q.b, int64(length), 10)
		for len(q.b)-start < 10 {
			q.b = append(q.b, ' ')
		}
		q.b = append(q.b, ' ', '\r', '\n')
	}
	q.b = append(q.b, "\r\n"...)
	q.b = append(q.b, body...)
	c.afterQueue()
}

func appendInt(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) }

// StatusText is the reason phrase reply() uses (§7.7); "" for unknown codes.
func StatusText(code int) string {
	return reasons[code]
}

var reasons = map[int]string{
	100: "Continue", 101: "Switching Protocols", 102: "Processing",
	200: "OK", 201: "Created", 202: "Accepted", 203: "Non-authoritative Information",
	204: "No Content", 205: "Reset Content", 206: "Partial Content", 207: "Multi-Status",
	208: "Already Reported", 226: "IM Used",
	300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other",
	304: "Not Modified", 305: "Use Proxy", 307: "Temporary Redirect", 308: "Permanent Redirect",
	400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
	404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
	407: "Proxy Authentication Required", 408: "Request Timeout", 409: "Conflict", 410: "Gone",
	411: "Length Required", 412: "Precondition Failed", 413: "Payload Too Large",
	414: "Request-URI Too Long", 415: "Unsupported Media Type",
	416: "Requested Range Not Satisfiable", 417: "Expectation Failed", 418: "I'm a teapot",
	421: "Misdirected Request", 422: "Unprocessable Entity", 423: "Locked",
	424: "Failed Dependency", 426: "Upgrade Required", 428: "Precondition Required",
	429: "Too Many Requests", 431: "Request Header Fields Too Large",
	444: "Connection Closed Without Response", 451: "Unavailable For Legal Reasons",
	499: "Client Closed Request",
	500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
	503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
	506: "Variant Also Negotiates", 507: "Insufficient Storage", 508: "Loop Detected",
	510: "Not Extended", 511: "Network Authentication Required",
	599: "Network Connect Timeout Error",
}
