package core

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestKeepAliveEventOrder(t *testing.T) {
	h := newHarness(t, nil, replyOn(EvHTTPMsg, func(c *Conn, msg *HTTPMessage) {
		c.Reply(200, nil, []byte("hello"))
	}))
	l, addr := h.listen(true)
	done := make(chan error, 1)
	go func() {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			done <- err
			return
		}
		br := bufio.NewReader(conn)
		for i := 0; i < 2; i++ {
			conn.Write([]byte(getReq))
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				done <- err
				return
			}
			if b := bodyOf(resp); b != "hello" {
				done <- fmt.Errorf("body %q", b)
				return
			}
		}
		conn.Close()
		done <- nil
	}()
	if err := recv(h, "client", done); err != nil {
		t.Fatal(err)
	}
	h.until("close", func() bool { a := h.accepted(l); return len(a) == 1 && a[0].IsClosed() })
	c := h.accepted(l)[0]
	want := evs(EvOpen, EvAccept,
		EvHTTPHdrs, EvHTTPMsg, EvRead, EvWrite,
		EvHTTPHdrs, EvHTTPMsg, EvRead, EvWrite,
		EvClose)
	if got := h.events(c); !sameEvents(got, want) {
		t.Fatalf("events\n got %v\nwant %v", got, want)
	}
	if got := h.events(l); !sameEvents(got, evs(EvOpen)) {
		t.Fatalf("listener events %v", got)
	}
}

func TestReplyWireFormat(t *testing.T) {
	h := newHarness(t, nil, replyOn(EvHTTPMsg, func(c *Conn, msg *HTTPMessage) {
		switch string(msg.URIBytes()) {
		case "/a":
			c.Reply(200, nil, []byte("ab\x00cd"))
		case "/b":
			c.Reply(299, []byte{}, nil)
		case "/c":
			c.Reply(404, []byte("X-A: 1\r\n"), []byte("no"))
			c.Drain()
		}
	}))
	_, addr := h.listen(true)
	req := "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n"
	r := recv(h, "client", rawClient(addr, []byte(req), false))
	want := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5          \r\n\r\nab\x00cd" +
		"HTTP/1.1 299 \r\nContent-Length: 0          \r\n\r\n" +
		"HTTP/1.1 404 Not Found\r\nX-A: 1\r\nContent-Length: 2          \r\n\r\nno"
	if string(r.data) != want {
		t.Fatalf("got %q\nwant %q", r.data, want)
	}
}

func TestTwoKeepAliveRequestsSameConn(t *testing.T) {
	n := 0
	h := newHarness(t, nil, replyOn(EvHTTPMsg, func(c *Conn, msg *HTTPMessage) {
		n++
		c.Reply(200, nil, []byte(fmt.Sprint(n)))
	}))
	l, addr := h.listen(true)
	done := make(chan string, 1)
	go func() {
		conn, _ := net.Dial("tcp", addr)
		defer conn.Close()
		br := bufio.NewReader(conn)
		var got []string
		for i := 0; i < 2; i++ {
			conn.Write([]byte(getReq))
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				done <- err.Error()
				return
			}
			got = append(got, bodyOf(resp))
		}
		done <- strings.Join(got, ",")
	}()
	if got := recv(h, "client", done); got != "1,2" {
		t.Fatalf("bodies %q", got)
	}
	a := h.accepted(l)
	if len(a) != 1 || h.count(a[0], EvHTTPMsg) != 2 {
		t.Fatalf("want one conn with two requests: %s", h.summary(nil))
	}
}

func TestConnectionCloseAnsweredThenEOF(t *testing.T) {
	h := newHarness(t, nil, replyOn(EvHTTPMsg, func(c *Conn, msg *HTTPMessage) {
		c.Reply(200, nil, []byte("bye"))
		if !c.IsDraining() == false {
			panic("reply must not drain by itself")
		}
	}))
	l, addr := h.listen(true)
	r := recv(h, "client", rawClient(addr, []byte("GET / HTTP/1.0\r\nConnection: Close\r\n\r\n"), false))
	if r.err != nil {
		t.Fatal(r.err)
	}
	resps := readResponses(t, r.data, 1)
	if bodyOf(resps[0]) != "bye" {
		t.Fatal("body")
	}
	h.until("close", func() bool { return h.accepted(l)[0].IsClosed() })
	want := evs(EvOpen, EvAccept, EvHTTPHdrs, EvHTTPMsg, EvWrite, EvClose)
	if got := h.events(h.accepted(l)[0]); !sameEvents(got, want) {
		t.Fatalf("events %v want %v", got, want)
	}
}

func TestPipelinedThreeInOrder(t *testing.T) {
	h := newHarness(t, nil, replyOn(EvHTTPMsg, func(c *Conn, msg *HTTPMessage) {
		c.Reply(200, nil, msg.URIBytes())
	}))
	l, addr := h.listen(true)
	req := "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n"
	r := recv(h, "client", rawClient(addr, []byte(req), true))
	resps := readResponses(t, r.data, 3)
	for i, resp := range resps {
		if b := bodyOf(resp); b != fmt.Sprintf("/%d", i+1) {
			t.Fatalf("response %d body %q", i, b)
		}
	}
	c := h.accepted(l)[0]
	h.until("close", c.IsClosed)
	want := evs(EvOpen, EvAccept, EvHTTPHdrs, EvHTTPMsg, EvHTTPHdrs, EvHTTPMsg, EvHTTPHdrs, EvHTTPMsg, EvRead, EvWrite, EvClose)
	if got := h.events(c); !sameEvents(got, want) {
		t.Fatalf("events %v\nwant %v", got, want)
	}
}

func TestDeferredReplyFromTimerReleasesPipelined(t *testing.T) {
	var h *harness
	h = newHarness(t, nil, replyOn(EvHTTPMsg, func(c *Conn, msg *HTTPMessage) {
		uri := append([]byte(nil), msg.URIBytes()...)
		h.m.TimerAdd(10, false, false, func() Result {
			c.Reply(200, nil, uri)
			return ResultOK
		})
	}))
	l, addr := h.listen(true)
	done := make(chan []string, 1)
	go func() {
		conn, _ := net.Dial("tcp", addr)
		defer conn.Close()
		conn.Write([]byte("GET /x HTTP/1.1\r\n\r\nGET /y HTTP/1.1\r\n\r\nGET /z HTTP/1.1\r\n\r\n"))
		br := bufio.NewReader(conn)
		var got []string
		for i := 0; i < 3; i++ {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				got = append(got, err.Error())
				break
			}
			got = append(got, bodyOf(resp))
		}
		done <- got
	}()
	got := recv(h, "client", done)
	if strings.Join(got, ",") != "/x,/y,/z" {
		t.Fatalf("got %v", got)
	}
	c := h.accepted(l)[0]
	if n := h.count(c, EvHTTPMsg); n != 3 {
		t.Fatalf("MSG count %d", n)
	}
}

// allBytes is n bytes cycling through all 256 values.
func allBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func splitResponse(t testing.TB, data []byte) (head string, body []byte) {
	t.Helper()
	i := bytes.Index(data, []byte("\r\n\r\n"))
	if i < 0 {
		t.Fatalf("no head in %q", trunc(data))
	}
	return string(data[:i+4]), data[i+4:]
}

func TestLargeBinaryReplyDrain(t *testing.T) {
	body := allBytes(16 << 20)
	h := newHarness(t, nil, replyOn(EvHTTPMsg, func(c *Conn, msg *HTTPMessage) {
		c.Reply(200, []byte("Content-Type: application/octet-stream\r\n"), body)
		c.Drain()
	}))
	l, addr := h.listen(true)
	r := recv(h, "client", rawClient(addr, []byte(getReq), false))
	if r.err != nil {
		t.Fatal(r.err)
	}
	head, got := splitResponse(t, r.data)
	if !strings.Contains(head, fmt.Sprintf("Content-Length: %-10d \r\n", len(body))) {
		t.Fatalf("head %q", head)
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("body differs: %d bytes, want %d", len(got), len(body))
	}
	c := h.accepted(l)[0]
	h.until("close", c.IsClosed)
	ev := h.events(c)
	if ev[len(ev)-1] != EvClose || ev[len(ev)-2] != EvWrite || h.count(c, EvRead) != 0 {
		t.Fatalf("events %v", ev)
	}
}

func TestManyClientsDrainLoseNothing(t *testing.T) {
	const clients = 200
	body := allBytes(1 << 20)
	h := newHarness(t, nil, replyOn(EvHTTPMsg, func(c *Conn, msg *HTTPMessage) {
		c.Reply(200, nil, body)
		c.Drain()
	}))
	_, addr := h.listen(true)
	results := make(chan error, clients)
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				results <- err
				return
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(60 * time.Second))
			conn.Write([]byte(getReq))
			data, err := io.ReadAll(conn)
			if err != nil {
				results <- err
				return
			}
			i := bytes.Index(data, []byte("\r\n\r\n"))
			if i < 0 || !bytes.Equal(data[i+4:], body) {
				results <- fmt.Errorf("bad response: %d bytes", len(data))
				return
			}
			results <- nil
		}()
	}
	got := 0
	h.until("clients", func() bool {
		for {
			select {
			case err := <-results:
				if err != nil {
					t.Fatal(err)
				}
				got++
			default:
				return got == clients
			}
		}
	})
	wg.Wait()
	h.until("all closed", func() bool { return len(h.m.Conns()) == 1 })
}

func TestHalfCloseStillGetsWholeResponse(t *testing.T) {
	body := allBytes(4 << 20)
	h := newHarness(t, nil, replyOn(EvHTTPMsg, func(c *Conn, msg *HTTPMessage) {
		c.Reply(200, nil, body) // keep-alive: no drain
	}))
	l, addr := h.listen(true)
	r := recv(h, "client", rawClient(addr, []byte(getReq), true))
	if r.err != nil {
		t.Fatal(r.err)
	}
	_, got := splitResponse(t, r.data)
	if !bytes.Equal(got, body) {
		t.Fatalf("got %d bytes, want %d", len(got), len(body))
	}
	c := h.accepted(l)[0]
	h.until("close", c.IsClosed)
}

func TestExceptionGives500ThenNextServed(t *testing.T) {
	n := 0
	h := newHarness(t, nil, func(c *Conn, ev Event, data any) Result {
		if ev == EvHTTPMsg {
			n++
			if n == 1 {
				return ResultException
			}
			c.Reply(200, nil, []byte("ok"))
		}
		return ResultOK
	})
	_, addr := h.listen(true)
	r := recv(h, "client", rawClient(addr, []byte(getReq+getReq), true))
	want := "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0          \r\n\r\n" +
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2          \r\n\r\nok"
	if string(r.data) != want {
		t.Fatalf("got %q", r.data)
	}
}

func TestExceptionAfterSendAddsNothing(t *testing.T) {
	h := newHarness(t, nil, func(c *Conn, ev Event, data any) Result {
		if ev == EvHTTPMsg {
			c.Send([]byte("partial"))
			c.Drain()
			return ResultException
		}
		return ResultOK
	})
	_, addr := h.listen(true)
	r := recv(h, "client", rawClient(addr, []byte(getReq), false))
	if string(r.data) != "partial" {
		t.Fatalf("got %q", r.data)
	}
}

func TestChunkedRequestAndChunkedReply(t *testing.T) {
	h := newHarness(t, nil, replyOn(EvHTTPMsg, func(c *Conn, msg *HTTPMessage) {
		c.Reply(200, []byte("Transfer-Encoding: chunked\r\n"), nil)
		c.HTTPChunk(msg.Body)
		c.HTTPChunk(nil)
	}))
	_, addr := h.listen(true)
	req := "POST /u HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n"
	r := recv(h, "client", rawClient(addr, []byte(req), true))
	want := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 0          \r\n\r\n" +
		"b\r\nhello world\r\n0\r\n\r\n"
	if string(r.data) != want {
		t.Fatalf("got %q", r.data)
	}
}

func TestPostBodyContentLength(t *testing.T) {
	body := allBytes(300000)
	h := newHarness(t, nil, replyOn(EvHTTPMsg, func(c *Conn, msg *HTTPMessage) {
		if !bytes.Equal(msg.Body, body) {
			c.Reply(500, nil, []byte("mismatch"))
			return
		}
		c.Reply(200, nil, []byte("ok"))
	}))
	l, addr := h.listen(true)
	req := append([]byte(fmt.Sprintf("POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n", len(body))), body...)
	r := recv(h, "client", rawClient(addr, req, true))
	if !strings.HasSuffix(string(r.data), "\r\n\r\nok") {
		t.Fatalf("got %q", trunc(r.data))
	}
	c := h.accepted(l)[0]
	if n := h.count(c, EvHTTPHdrs); n != 1 {
		t.Fatalf("HDRS %d times", n)
	}
}
