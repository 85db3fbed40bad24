package codec

import (
	"strings"
	"testing"
)

func TestParseHeadTable(t *testing.T) {
	type want struct {
		n                        int // -1: complete (len of input), 0: incomplete
		code                     int
		method, uri, query, prot string
		cl                       int64
		chunked, connClose       bool
		headers                  int
	}
	cases := []struct {
		name string
		in   string
		want want
	}{
		{"simple", "GET / HTTP/1.1\r\n\r\n", want{n: -1, method: "GET", uri: "/", prot: "HTTP/1.1", cl: -1}},
		{"lf only", "GET /a HTTP/1.0\nHost: x\n\n", want{n: -1, method: "GET", uri: "/a", prot: "HTTP/1.0", cl: -1, headers: 1}},
		{"query", "GET /p?a=1&b=2 HTTP/1.1\r\n\r\n", want{n: -1, method: "GET", uri: "/p", query: "a=1&b=2", prot: "HTTP/1.1", cl: -1}},
		{"two ?", "GET /p?a?b HTTP/1.1\r\n\r\n", want{n: -1, method: "GET", uri: "/p", query: "a?b", prot: "HTTP/1.1", cl: -1}},
		{"no proto", "GET /x\r\n\r\n", want{n: -1, method: "GET", uri: "/x", cl: -1}},
		{"utf8 uri", "GET /é HTTP/1.1\r\n\r\n", want{n: -1, method: "GET", uri: "/é", prot: "HTTP/1.1", cl: -1}},
		{"spaces", "GET   /   HTTP/1.1\r\n\r\n", want{n: -1, method: "GET", uri: "/", prot: "HTTP/1.1", cl: -1}},
		{"headers trimmed", "GET / HTTP/1.1\r\nA:  b c \t\r\nEmpty:\r\n\r\n", want{n: -1, method: "GET", uri: "/", prot: "HTTP/1.1", cl: -1, headers: 2}},
		{"content-length", "POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n", want{n: -1, method: "POST", uri: "/", prot: "HTTP/1.1", cl: 12, headers: 1}},
		{"same cl twice", "POST / HTTP/1.1\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\n", want{n: -1, method: "POST", uri: "/", prot: "HTTP/1.1", cl: 3, headers: 2}},
		{"chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n", want{n: -1, method: "POST", uri: "/", prot: "HTTP/1.1", cl: -1, chunked: true, headers: 1}},
		{"conn close", "GET / HTTP/1.1\r\nConnection: CLOSE\r\n\r\n", want{n: -1, method: "GET", uri: "/", prot: "HTTP/1.1", cl: -1, connClose: true, headers: 1}},
		{"conn list", "GET / HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\n", want{n: -1, method: "GET", uri: "/", prot: "HTTP/1.1", cl: -1, connClose: true, headers: 1}},
		{"conn second header", "GET / HTTP/1.1\r\nConnection: Upgrade\r\nConnection: Close\r\n\r\n", want{n: -1, method: "GET", uri: "/", prot: "HTTP/1.1", cl: -1, connClose: true, headers: 2}},
		{"conn token prefix", "GET / HTTP/1.1\r\nConnection: closed\r\n\r\n", want{n: -1, method: "GET", uri: "/", prot: "HTTP/1.1", cl: -1, headers: 1}},
		{"incomplete", "GET / HTTP/1.1\r\nHost: x\r\n", want{}},
		{"incomplete cr", "GET / HTTP/1.1\r\n\r", want{}},
		{"empty", "", want{}},
		{"nul", "GET /\x00 HTTP/1.1\r\n\r\n", want{code: 400}},
		{"ctl early", "GE\x01", want{code: 400}},
		{"bad proto", "GET / HTTP/11\r\n\r\n", want{code: 400}},
		{"proto junk", "GET / HTTP/1.1 x\r\n\r\n", want{code: 400}},
		{"no uri", "GET\r\n\r\n", want{code: 400}},
		{"leading space", " GET / HTTP/1.1\r\n\r\n", want{code: 400}},
		{"obs fold", "GET / HTTP/1.1\r\nA: b\r\n\tc\r\n\r\n", want{code: 400}},
		{"no colon", "GET / HTTP/1.1\r\nAb\r\n\r\n", want{code: 400}},
		{"empty name", "GET / HTTP/1.1\r\n: v\r\n\r\n", want{code: 400}},
		{"space in name", "GET / HTTP/1.1\r\nA b: v\r\n\r\n", want{code: 400}},
		{"bare cr", "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", want{code: 400}},
		{"bad utf8", "GET /\xff HTTP/1.1\r\n\r\n", want{code: 400}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var msg HTTPMessage
			var hi HeadInfo
			n, code := ParseHead([]byte(tc.in), true, 0, 0, &msg, &hi)
			w := tc.want
			if w.n < 0 {
				w.n = len(tc.in)
			}
			if n != w.n || code != w.code {
				t.Fatalf("n=%d code=%d, want n=%d code=%d", n, code, w.n, w.code)
			}
			if n == 0 {
				return
			}
			got := []string{string(msg.MethodBytes()), string(msg.URIBytes()), string(msg.QueryBytes()), string(msg.ProtoBytes())}
			exp := []string{w.method, w.uri, w.query, w.prot}
			if strings.Join(got, "|") != strings.Join(exp, "|") {
				t.Fatalf("line %q want %q", got, exp)
			}
			if hi.ContentLength != w.cl || hi.TEChunked != w.chunked || hi.ConnClose != w.connClose || len(msg.Headers) != w.headers {
				t.Fatalf("info %+v headers %d", hi, len(msg.Headers))
			}
		})
	}
}

func TestParseHeaderValuesAndLimits(t *testing.T) {
	var msg HTTPMessage
	var hi HeadInfo
	in := "GET / HTTP/1.1\r\nA:  b c \t\r\nEmpty:\r\n\r\n"
	ParseHead([]byte(in), true, 0, 0, &msg, &hi)
	if v, ok := msg.Header("a"); !ok || string(v) != "b c" {
		t.Fatalf("A=%q", v)
	}
	if v, ok := msg.Header("EMPTY"); !ok || len(v) != 0 || v == nil {
		t.Fatalf("Empty=%q %v", v, ok)
	}
	if _, ok := msg.Header("missing"); ok {
		t.Fatal("missing header found")
	}
	// Only 30 headers are stored, but Content-Length is seen anywhere.
	var b strings.Builder
	b.WriteString("POST / HTTP/1.1\r\n")
	for i := 0; i < 40; i++ {
		b.WriteString("X: y\r\n")
	}
	b.WriteString("Content-Length: 5\r\n\r\n")
	n, code := ParseHead([]byte(b.String()), true, 0, 0, &msg, &hi)
	if n == 0 || code != 0 || len(msg.Headers) != 30 || hi.ContentLength != 5 {
		t.Fatalf("n=%d code=%d headers=%d cl=%d", n, code, len(msg.Headers), hi.ContentLength)
	}
	if hi.HeaderLines != 41 {
		t.Fatalf("header lines %d, want 41", hi.HeaderLines)
	}
	if _, code := ParseHeadStoring([]byte(b.String()), true, 0, 0, 100, &msg, &hi); code != 0 || len(msg.Headers) != 41 {
		t.Fatalf("storing all: code %d, %d headers", code, len(msg.Headers))
	}
	if _, code := ParseHead([]byte(b.String()), true, 0, 40, &msg, &hi); code != 431 {
		t.Fatalf("max headers: %d", code)
	}
	if _, code := ParseHead([]byte(b.String()), true, 100, 0, &msg, &hi); code != 431 {
		t.Fatalf("max head: %d", code)
	}
	// Responses: protocol, status and a reason with spaces.
	n, code = ParseHead([]byte("HTTP/1.1 404 Not Found\r\n\r\n"), false, 0, 0, &msg, &hi)
	if n == 0 || code != 0 || msg.Status() != 404 || string(msg.ProtoBytes()) != "Not Found" || string(msg.MethodBytes()) != "HTTP/1.1" {
		t.Fatalf("response %q status %d", msg.String(), msg.Status())
	}
}
