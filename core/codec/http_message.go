package codec

import "strings"

// Span is a range of HTTPMessage.Head.
type Span struct{ Off, Len int }

// HeaderSpan locates one header line's name and value in Head.
type HeaderSpan struct{ Name, Value Span }

// MaxStoredHeaders is Mongoose's MG_MAX_HTTP_HEADERS (§7.1).
const MaxStoredHeaders = 30

// HTTPMessage is a parsed request or response. Head and Body are views into
// the connection's receive buffer, valid only during the event.
//
// For responses Method holds the protocol, URI the status code text and
// Proto the reason phrase (§7.3).
type HTTPMessage struct {
	Head    []byte // request/response line .. blank line, as received
	Body    []byte // body (de-chunked); during EvHTTPHdrs what has arrived so far
	Method  Span
	URI     Span
	Query   Span
	Proto   Span
	Headers []HeaderSpan // first 30 only
}

// Bytes returns the bytes of s within Head.
func (h *HTTPMessage) Bytes(s Span) []byte {
	if s.Off < 0 || s.Len <= 0 || s.Off+s.Len > len(h.Head) {
		return nil
	}
	return h.Head[s.Off : s.Off+s.Len]
}

// Convenience accessors for Go users (the fields hold the spans).
func (h *HTTPMessage) MethodBytes() []byte { return h.Bytes(h.Method) }
func (h *HTTPMessage) URIBytes() []byte    { return h.Bytes(h.URI) }
func (h *HTTPMessage) QueryBytes() []byte  { return h.Bytes(h.Query) }
func (h *HTTPMessage) ProtoBytes() []byte  { return h.Bytes(h.Proto) }

// Header returns the value of the first stored header named name
// (case-insensitive).
func (h *HTTPMessage) Header(name string) ([]byte, bool) {
	for _, hs := range h.Headers {
		if EqualFold(h.Bytes(hs.Name), name) {
			v := h.Bytes(hs.Value)
			if v == nil {
				v = []byte{}
			}
			return v, true
		}
	}
	return nil, false
}

// Status is the integer prefix of the URI: the status code of a response,
// 0 for a typical request.
func (h *HTTPMessage) Status() int {
	return atoiPrefix(string(h.URIBytes()))
}

// EqualFold reports whether b and s are equal under ASCII case folding,
// the comparison of HTTP header names and tokens.
func EqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x != y && lower(x) != lower(y) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// String renders the request line, for debugging.
func (h *HTTPMessage) String() string {
	var b strings.Builder
	b.Write(h.MethodBytes())
	b.WriteByte(' ')
	b.Write(h.URIBytes())
	if h.Query.Len > 0 {
		b.WriteByte('?')
		b.Write(h.QueryBytes())
	}
	b.WriteByte(' ')
	b.Write(h.ProtoBytes())
	return b.String()
}

// RequestPath is the path of a request target: the target itself in
// origin form ("/p"), the part from the first "/" after the authority in
// absolute form ("http://host:port/p", RFC 9112 §3.2.2), "/" when that
// has no path. uri is HTTPMessage.URI (the query is already split off).
func RequestPath(uri []byte) []byte {
	i := 0
	for i < len(uri) && (uri[i] >= 'a' && uri[i] <= 'z' || uri[i] >= 'A' && uri[i] <= 'Z' ||
		i > 0 && (uri[i] >= '0' && uri[i] <= '9' || uri[i] == '+' || uri[i] == '-' || uri[i] == '.')) {
		i++
	}
	if i == 0 || len(uri)-i < 3 || string(uri[i:i+3]) != "://" {
		return uri
	}
	for j := i + 3; j < len(uri); j++ {
		if uri[j] == '/' {
			return uri[j:]
		}
	}
	return []byte("/")
}
