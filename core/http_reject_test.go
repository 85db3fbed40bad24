package core

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func rejectBytes(code int) string {
	return fmt.Sprintf("HTTP/1.1 %d %s\r\nConnection: close\r\nContent-Length: 0          \r\n\r\n", code, StatusText(code))
}

// checkRejected asserts the exact error response, then EOF, and that the
// handler saw no MSG and no READ for the connection.
func checkRejected(t *testing.T, lim *Limits, req string, code int, timeout bool) {
	t.Helper()
	h := newHarness(t, lim, replyOn(EvHTTPMsg, func(c *Conn, msg *HTTPMessage) {
		c.Reply(200, nil, []byte("served"))
	}))
	l, addr := h.listen(true)
	r := recv(h, "client", rawClient(addr, []byte(req), false))
	if string(r.data) != rejectBytes(code) {
		t.Fatalf("got %q, want %q", r.data, rejectBytes(code))
	}
	c := h.accepted(l)[0]
	h.until("close", c.IsClosed)
	// A timeout comes after the reads that brought the partial request.
	if h.count(c, EvHTTPMsg) != 0 || !timeout && h.count(c, EvRead) != 0 || h.count(c, EvError) != 0 {
		t.Fatalf("unexpected events %v", h.events(c))
	}
	ev := h.events(c)
	if ev[len(ev)-1] != EvClose || ev[len(ev)-2] != EvWrite {
		t.Fatalf("events %v", ev)
	}
}

func TestRejections(t *testing.T) {
	small := DefaultLimits()
	small.MaxBodySize = 1000
	small.MaxHeadSize = 200
	small.MaxHeaders = 3
	cases := []struct {
		name string
		lim  *Limits
		req  string
		code int
	}{
		{"garbage", nil, "\x01\x02\x03\r\n\r\n", 400},
		{"nul in head", nil, "GET /\x00 HTTP/1.1\r\n\r\n", 400},
		{"bad proto", nil, "GET / HTTP/1.1x\r\n\r\n", 400},
		{"no colon", nil, "GET / HTTP/1.1\r\nfoo\r\n\r\n", 400},
		{"obs-fold", nil, "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", 400},
		{"bad content-length", nil, "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\nab", 400},
		{"conflicting content-length", nil, "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
		{"cl and te", nil, "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"te not chunked", nil, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
		{"bad chunk", nil, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
		{"bad chunk end", nil, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n", 400},
		{"body too large", &small, "POST / HTTP/1.1\r\nContent-Length: 1001\r\n\r\n", 413},
		{"chunked too large", &small, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3e9\r\n", 413},
		{"head too large", &small, "GET /" + strings.Repeat("a", 300) + " HTTP/1.1\r\n\r\n", 431},
		{"head too large incomplete", &small, "GET /" + strings.Repeat("a", 300), 431},
		{"too many headers", &small, "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", 431},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkRejected(t, tc.lim, tc.req, tc.code, false)
		})
	}
}

func TestRejectAfterServedRequest(t *testing.T) {
	h := newHarness(t, nil, replyOn(EvHTTPMsg, func(c *Conn, msg *HTTPMessage) {
		c.Reply(200, nil, []byte("ok"))
	}))
	_, addr := h.listen(true)
	r := recv(h, "client", rawClient(addr, []byte(getReq+"BAD\r\n\r\n"), false))
	want := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2          \r\n\r\nok" + rejectBytes(400)
	if string(r.data) != want {
		t.Fatalf("got %q", r.data)
	}
}

func TestChunkedOverLimitAfterHeaders(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxBodySize = 10
	h := newHarness(t, &lim, nil)
	l, addr := h.listen(true)
	req := "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
	ch := rawClientSteps(addr, []string{req, "6\r\nworld!\r\n0\r\n\r\n"}, 50*time.Millisecond)
	r := recv(h, "client", ch)
	if string(r.data) != rejectBytes(413) {
		t.Fatalf("got %q", r.data)
	}
	c := h.accepted(l)[0]
	if h.count(c, EvHTTPHdrs) != 1 || h.count(c, EvHTTPMsg) != 0 {
		t.Fatalf("events %v", h.events(c))
	}
}

func TestLengthRequired411(t *testing.T) {
	h := newHarness(t, nil, replyOn(EvHTTPMsg, func(c *Conn, msg *HTTPMessage) {
		c.Reply(200, nil, []byte("ok"))
	}))
	l, addr := h.listen(true)
	r := recv(h, "client", rawClient(addr, []byte("POST / HTTP/1.1\r\n\r\n"+getReq), true))
	want := "HTTP/1.1 411 Length Required\r\nContent-Length: 0          \r\n\r\n" +
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2          \r\n\r\nok"
	if string(r.data) != want {
		t.Fatalf("got %q", r.data)
	}
	if n := h.count(h.accepted(l)[0], EvHTTPMsg); n != 1 {
		t.Fatalf("MSG %d", n)
	}
}

func TestHeadTimeout408(t *testing.T) {
	lim := DefaultLimits()
	lim.HeadTimeoutMs = 150
	checkRejected(t, &lim, "GET / HTTP/1.1\r\nHost:", 408, true)
}

func TestBodyStall408(t *testing.T) {
	lim := DefaultLimits()
	lim.StallTimeoutMs = 150
	checkRejected(t, &lim, "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", 408, true)
}

func TestIdleKeepAliveNotTimedOut(t *testing.T) {
	lim := DefaultLimits()
	lim.HeadTimeoutMs = 50
	lim.StallTimeoutMs = 50
	h := newHarness(t, &lim, replyOn(EvHTTPMsg, func(c *Conn, msg *HTTPMessage) {
		c.Reply(200, nil, []byte("ok"))
	}))
	l, addr := h.listen(true)
	ch := rawClientSteps(addr, []string{getReq, getReq}, 300*time.Millisecond)
	r := recv(h, "client", ch)
	if n := strings.Count(string(r.data), "200 OK"); n != 2 {
		t.Fatalf("got %q", r.data)
	}
	_ = l
}
