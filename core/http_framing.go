package core

import "github.com/pymongoose-go/pymongoose-go/core/codec"

// How the response to the request being served is framed (RFC 9110,
// RFC 9112): whether the connection stays open after it, the Connection
// header that says so, HEAD, and HTTP/1.0 peers, which get no chunked
// coding (a streamed body is delimited by the close instead).

// reqFraming is what the request being answered asks of its response.
type reqFraming struct {
	head      bool // HEAD: the head of the GET response, no body
	http10    bool // HTTP/1.0 (or 0.x) request
	close     bool // the connection closes after the response
	expect100 bool // Expect: 100-continue, not answered yet
	headOut   bool // the final response head has been queued
	rawBody   bool // HTTP/1.0 stream: HTTPChunk writes data unframed
}

func newReqFraming(msg *HTTPMessage, hi *codec.HeadInfo) reqFraming {
	http10 := codec.IsHTTP10(msg.ProtoBytes())
	return reqFraming{
		head:      string(msg.MethodBytes()) == "HEAD",
		http10:    http10,
		close:     hi.ConnClose || http10 && !hi.KeepAlive,
		expect100: hi.Expect100 && !http10,
	}
}

// noContent reports a status whose response has no body and no
// Content-Length (RFC 9110 §8.6, §15.3.5, §15.4.5).
func noContent(code int) bool {
	return code >= 100 && code < 200 || code == 204 || code == 304
}

// answering returns the framing of the request a response written now
// answers, or nil outside a server request (raw TCP, client side, or
// between requests): such output is queued unchanged.
func (c *Conn) answering() *reqFraming {
	h := c.http
	if h == nil || !h.server || !h.inProgress && !h.inHdrs {
		return nil
	}
	return &h.req
}

var headerKeepAlive = []byte("Connection: keep-alive\r\n")

// connectionLine decides the Connection header the engine adds to a final
// response whose header lines are hdrs, and notes a response that itself
// says "Connection: close". A response written from EvHTTPHdrs refuses the
// request before its body, so the connection closes after it.
func (c *Conn) connectionLine(r *reqFraming, code int, hdrs []byte) []byte {
	if code < 200 {
		if code == 100 {
			r.expect100 = false
		}
		return nil
	}
	r.headOut = true
	present, closes := scanConnection(hdrs)
	if closes || c.http.inHdrs {
		r.close = true
	}
	switch {
	case present:
		return nil
	case r.close:
		return headerConnClose
	case r.http10:
		return headerKeepAlive
	}
	return nil
}

// scanConnection looks for a Connection header in preformatted header
// lines and reports whether one lists "close".
func scanConnection(hdrs []byte) (present, closes bool) {
	for len(hdrs) > 0 {
		end := 0
		for end < len(hdrs) && hdrs[end] != '\n' {
			end++
		}
		line := hdrs[:end]
		if len(line) > 11 && codec.EqualFold(line[:11], "connection:") {
			present = true
			cl, _ := codec.ConnTokens(trimLine(line[11:]))
			closes = closes || cl
		}
		if end == len(hdrs) {
			break
		}
		hdrs = hdrs[end+1:]
	}
	return present, closes
}

// trimLine drops blanks and a CR around a header value.
func trimLine(v []byte) []byte {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t' || v[len(v)-1] == '\r') {
		v = v[:len(v)-1]
	}
	return v
}

// queueOutput queues b. On a server connection the first output of a
// response that starts with a complete response head ("HTTP/...",
// through CRLF CRLF, as send() or serve_file write it) gets the framing
// the request needs: a Connection header, and for an HTTP/1.0 client no
// "Transfer-Encoding: chunked" (HTTPChunk then writes the data as is and
// the close ends the body).
func (c *Conn) queueOutput(b []byte) {
	r := c.answering()
	if r == nil || r.headOut {
		c.send.write(b)
		return
	}
	end := crlfHeadEnd(b)
	if end < 0 || len(b) < 12 || string(b[:5]) != "HTTP/" {
		if !c.http.inHdrs {
			r.headOut = true // not a head the engine understands: as is
		}
		c.send.write(b)
		return
	}
	code := 0
	for _, d := range b[9:12] {
		if d < '0' || d > '9' {
			break
		}
		code = code*10 + int(d-'0')
	}
	if code < 200 { // interim (101: not HTTP any more)
		if code == 100 {
			r.expect100 = false
		}
		c.send.write(b)
		return
	}
	if c.http.inHdrs { // written from EvHTTPHdrs: left to the handler
		c.send.write(b)
		return
	}
	r.headOut = true
	// Header lines: from after the status line to the blank line.
	first := 0
	for b[first] != '\n' {
		first++
	}
	first++
	hdrs := b[first : end-2]
	present, closes := scanConnection(hdrs)
	chunked, length := scanFraming(hdrs)
	if closes {
		r.close = true
	}
	strip := chunked && r.http10
	if strip {
		r.rawBody, r.close = true, true
	}
	if !chunked && !length && !r.head && !noContent(code) {
		r.close = true // the body ends with the connection
	}
	c.send.write(b[:first])
	if strip {
		writeWithoutTE(&c.send, hdrs)
	} else {
		c.send.write(hdrs)
	}
	if !present {
		switch {
		case r.close:
			c.send.write(headerConnClose)
		case r.http10:
			c.send.write(headerKeepAlive)
		}
	}
	c.send.write(b[end-2:])
}

// crlfHeadEnd returns the length of the head at the start of b through its
// CRLF CRLF, or -1.
func crlfHeadEnd(b []byte) int {
	for i := 3; i < len(b); i++ {
		if b[i] == '\n' && b[i-1] == '\r' && b[i-2] == '\n' && b[i-3] == '\r' {
			return i + 1
		}
	}
	return -1
}

// scanFraming reports "Transfer-Encoding: chunked" and Content-Length
// among header lines.
func scanFraming(hdrs []byte) (chunked, length bool) {
	for len(hdrs) > 0 {
		end := 0
		for end < len(hdrs) && hdrs[end] != '\n' {
			end++
		}
		line := hdrs[:end]
		switch {
		case len(line) > 18 && codec.EqualFold(line[:18], "transfer-encoding:"):
			chunked = chunked || isChunkedTE(trimLine(line[18:]))
		case len(line) > 15 && codec.EqualFold(line[:15], "content-length:"):
			length = true
		}
		if end == len(hdrs) {
			break
		}
		hdrs = hdrs[end+1:]
	}
	return chunked, length
}

// isChunkedTE: the last coding of a Transfer-Encoding value is chunked.
func isChunkedTE(v []byte) bool {
	i := len(v)
	for i > 0 && v[i-1] != ',' {
		i--
	}
	return codec.EqualFold(trimLine(v[i:]), "chunked")
}

// writeWithoutTE queues header lines without their Transfer-Encoding
// lines (an HTTP/1.0 client gets the raw, close-delimited body).
func writeWithoutTE(q *iobuf, hdrs []byte) {
	for len(hdrs) > 0 {
		end := 0
		for end < len(hdrs) && hdrs[end] != '\n' {
			end++
		}
		if end < len(hdrs) {
			end++
		}
		line := hdrs[:end]
		if !(len(line) > 18 && codec.EqualFold(line[:18], "transfer-encoding:")) {
			q.write(line)
		}
		hdrs = hdrs[end:]
	}
}
