package codec

import (
	"bytes"
	"testing"
)

// FuzzParseRequest checks that the request parser never panics, that every
// span it reports lies inside the head, and that the chunked decoder stays
// inside its input.
func FuzzParseRequest(f *testing.F) {
	seeds := []string{
		"GET / HTTP/1.1\r\n\r\n",
		"POST /p?q=1 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"GET /é HTTP/1.0\nA: b\n\n",
		"HTTP/1.1 200 OK\r\n\r\n",
		"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",
		"\r\n\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, isReq := range []bool{true, false} {
			var msg HTTPMessage
			var hi HeadInfo
			n, code := ParseHead(data, isReq, 4096, 50, &msg, &hi)
			if n < 0 || n > len(data) || n > 0 && code != 0 {
				t.Fatalf("n=%d code=%d", n, code)
			}
			if n == 0 {
				continue
			}
			spans := []Span{msg.Method, msg.URI, msg.Query, msg.Proto}
			for _, h := range msg.Headers {
				spans = append(spans, h.Name, h.Value)
			}
			for _, s := range spans {
				if s.Off < 0 || s.Len < 0 || s.Off+s.Len > n {
					t.Fatalf("span %+v outside head of %d", s, n)
				}
			}
			// The URI token is non-empty, though the part before '?' may be.
			if msg.Method.Len == 0 || msg.Query.Off+msg.Query.Len <= msg.URI.Off || len(msg.Headers) > MaxStoredHeaders {
				t.Fatalf("bad message %+v", msg)
			}
			for _, h := range msg.Headers {
				if bytes.ContainsAny(msg.Bytes(h.Name), ": \r\n") {
					t.Fatalf("header name %q", msg.Bytes(h.Name))
				}
			}
			body := append([]byte(nil), data[n:]...)
			dlen, raw, st := ScanChunks(body, 1<<20)
			if st == ChunkDone {
				if raw > len(body) || dlen > int64(raw) {
					t.Fatalf("raw %d dlen %d of %d", raw, dlen, len(body))
				}
				if got := Dechunk(body[:raw]); int64(got) != dlen {
					t.Fatalf("Dechunk %d want %d", got, dlen)
				}
			}
		}
	})
}
