package codec

import "unicode/utf8"

// HeadInfo is what the parser learns about message framing. Content-Length
// and Transfer-Encoding are examined on every header line, not only on the
// 30 that are stored (§7.1).
type HeadInfo struct {
	ContentLength int64 // -1 when absent
	CLBad         bool  // not all digits, or several different values
	TE            int   // number of Transfer-Encoding headers
	TEChunked     bool  // a Transfer-Encoding header says exactly "chunked"
	ConnClose     bool  // a Connection header lists "close"
	KeepAlive     bool  // a Connection header lists "keep-alive"
	Expect100     bool  // Expect: 100-continue
	HeaderLines   int   // header lines in the head (msg.Headers may hold fewer)
}

// maxCLDigits keeps Content-Length parsing free of overflow.
const maxCLDigits = 18

// ParseHead parses the message head at the start of buf into msg and hi.
//
// It returns (n, 0) with n the head length (through the blank line) when the
// head is complete, (0, 0) when more bytes are needed, and (0, code) when
// the head must be rejected with status code 400 (unparseable) or 431 (over
// maxHead bytes or maxHeaders lines; 0 turns a limit off). isReq selects the
// request-line rules; a response line puts the protocol in Method, the
// status in URI and the reason phrase in Proto. msg.Headers gets the first
// MaxStoredHeaders headers (hi.HeaderLines counts them all).
func ParseHead(buf []byte, isReq bool, maxHead, maxHeaders int, msg *HTTPMessage, hi *HeadInfo) (int, int) {
	return ParseHeadStoring(buf, isReq, maxHead, maxHeaders, MaxStoredHeaders, msg, hi)
}

// ParseHeadStoring is ParseHead storing the first maxStored headers.
func ParseHeadStoring(buf []byte, isReq bool, maxHead, maxHeaders, maxStored int, msg *HTTPMessage, hi *HeadInfo) (int, int) {
	// Find the blank line, rejecting control bytes early.
	n, lines := 0, 0
	for i := 0; i < len(buf); i++ {
		c := buf[i]
		if c >= 0x20 || c == '\t' || c == '\r' {
			continue
		}
		if c != '\n' {
			return 0, 400
		}
		lines++
		if i+1 < len(buf) && buf[i+1] == '\n' {
			n = i + 2
			break
		}
		if i+2 < len(buf) && buf[i+1] == '\r' && buf[i+2] == '\n' {
			n = i + 3
			break
		}
	}
	if maxHeaders > 0 && lines-1 > maxHeaders {
		return 0, 431
	}
	if n == 0 {
		if maxHead > 0 && len(buf) > maxHead {
			return 0, 431
		}
		return 0, 0
	}
	if maxHead > 0 && n > maxHead {
		return 0, 431
	}
	head := buf[:n]
	*hi = HeadInfo{ContentLength: -1}
	msg.Head = head
	msg.Body = nil
	msg.Headers = msg.Headers[:0]

	// Request or status line.
	line, pos := nextLine(head, 0)
	if line < 0 {
		return 0, 400
	}
	ls := head[:line]
	i := tokenEnd(ls, 0)
	j := skipSpaces(ls, i)
	k := tokenEnd(ls, j)
	l := skipSpaces(ls, k)
	if i == 0 || k == j {
		return 0, 400
	}
	msg.Method = Span{0, i}
	msg.URI = Span{j, k - j}
	msg.Query = Span{k, 0}
	for q := j; q < k; q++ {
		if ls[q] == '?' {
			msg.URI = Span{j, q - j}
			msg.Query = Span{q + 1, k - q - 1}
			break
		}
	}
	msg.Proto = Span{l, len(ls) - l}
	if isReq && !validReqProto(ls[l:]) {
		return 0, 400
	}
	if !isReq && !validText(ls[l:]) {
		return 0, 400
	}

	// Header lines.
	for {
		start := pos
		end, next := nextLine(head, pos)
		if end < 0 {
			return 0, 400
		}
		pos = next
		if end == start {
			break // the blank line
		}
		hl := head[start:end]
		if hl[0] == ' ' || hl[0] == '\t' {
			return 0, 400 // obsolete line folding
		}
		p := 0
		for p < len(hl) && hl[p] != ':' {
			w := charLen(hl[p:])
			if w == 0 {
				return 0, 400
			}
			p += w
		}
		if p == 0 || p >= len(hl) {
			return 0, 400
		}
		v := p + 1
		for v < len(hl) && (hl[v] == ' ' || hl[v] == '\t') {
			v++
		}
		e := len(hl)
		for e > v && (hl[e-1] == ' ' || hl[e-1] == '\t') {
			e--
		}
		name, val := hl[:p], hl[v:e]
		hi.HeaderLines++
		if len(msg.Headers) < maxStored {
			msg.Headers = append(msg.Headers, HeaderSpan{Span{start, p}, Span{start + v, e - v}})
		}
		switch {
		case EqualFold(name, "content-length"):
			cl, ok := parseCL(val)
			if !ok || hi.ContentLength >= 0 && hi.ContentLength != cl {
				hi.CLBad = true
			}
			hi.ContentLength = cl
		case EqualFold(name, "transfer-encoding"):
			hi.TE++
			hi.TEChunked = EqualFold(val, "chunked")
		case EqualFold(name, "connection"):
			cl, ka := ConnTokens(val)
			hi.ConnClose = hi.ConnClose || cl
			hi.KeepAlive = hi.KeepAlive || ka
		case EqualFold(name, "expect"):
			hi.Expect100 = EqualFold(val, "100-continue")
		}
	}
	return n, 0
}

// ConnTokens reports whether a Connection value (a comma-separated token
// list, RFC 9110 §7.6.1) contains "close" and "keep-alive".
func ConnTokens(v []byte) (closes, keepAlive bool) {
	for len(v) > 0 {
		i := 0
		for i < len(v) && v[i] != ',' {
			i++
		}
		t := v[:i]
		for len(t) > 0 && (t[0] == ' ' || t[0] == '\t') {
			t = t[1:]
		}
		for len(t) > 0 && (t[len(t)-1] == ' ' || t[len(t)-1] == '\t') {
			t = t[:len(t)-1]
		}
		closes = closes || EqualFold(t, "close")
		keepAlive = keepAlive || EqualFold(t, "keep-alive")
		if i == len(v) {
			break
		}
		v = v[i+1:]
	}
	return closes, keepAlive
}

// IsHTTP10 reports a request protocol older than HTTP/1.1 (HTTP/1.0 or
// HTTP/0.x): no persistent connection unless asked, no chunked coding.
func IsHTTP10(p []byte) bool {
	return len(p) == 8 && (p[5] == '0' || p[5] == '1' && p[7] == '0')
}

// nextLine returns the end of the line starting at pos (without CR LF) and
// the start of the next one; -1 for a bare CR inside the line.
func nextLine(b []byte, pos int) (end, next int) {
	for i := pos; i < len(b); i++ {
		switch b[i] {
		case '\n':
			if i > pos && b[i-1] == '\r' {
				return i - 1, i + 1
			}
			return i, i + 1
		case '\r':
			if i+1 >= len(b) || b[i+1] != '\n' {
				return -1, 0
			}
		}
	}
	return -1, 0
}

// tokenEnd returns the end of the run at i of printable non-space ASCII or
// valid UTF-8 sequences.
func tokenEnd(b []byte, i int) int {
	for i < len(b) {
		w := charLen(b[i:])
		if w == 0 {
			break
		}
		i += w
	}
	return i
}

func skipSpaces(b []byte, i int) int {
	for i < len(b) && b[i] == ' ' {
		i++
	}
	return i
}

// charLen is the length of a token character at b[0]: 1 for printable
// non-space ASCII, the sequence length for valid UTF-8, 0 otherwise.
func charLen(b []byte) int {
	c := b[0]
	if c > ' ' && c < 0x7f {
		return 1
	}
	if c < 0x80 {
		return 0
	}
	r, w := utf8.DecodeRune(b)
	if r == utf8.RuneError && w <= 1 {
		return 0
	}
	return w
}

// validReqProto: empty or exactly HTTP/<digit>.<digit>.
func validReqProto(p []byte) bool {
	if len(p) == 0 {
		return true
	}
	return len(p) == 8 && string(p[:5]) == "HTTP/" && isDigit(p[5]) && p[6] == '.' && isDigit(p[7])
}

// validText: a reason phrase has no control bytes other than TAB (already
// checked) and no CR.
func validText(p []byte) bool {
	for _, c := range p {
		if c == '\r' {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// parseCL accepts digits only (surrounding blanks are already trimmed).
func parseCL(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > maxCLDigits {
		return -1, false
	}
	var n int64
	for _, c := range v {
		if !isDigit(c) {
			return -1, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// IsBodyMethod: POST and PUT need a length (411 otherwise).
func IsBodyMethod(m []byte) bool {
	return string(m) == "POST" || string(m) == "PUT"
}
