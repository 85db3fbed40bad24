package core

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// rawExchange runs one raw client session: write req, read until EOF.
func rawExchange(t *testing.T, h *harness, addr, req string) string {
	t.Helper()
	r := recv(h, "client", rawClient(addr, []byte(req), false))
	if r.err != nil {
		t.Fatal(r.err)
	}
	return string(r.data)
}

func pad(n string) string { return n + strings.Repeat(" ", 11-len(n)) }

func TestReplyNoContentLengthFor1xx204304(t *testing.T) {
	h := newHarness(t, nil, replyOn(EvHTTPMsg, func(c *Conn, m *HTTPMessage) {
		switch string(m.URIBytes()) {
		case "/204":
			c.Reply(204, []byte{}, []byte("dropped"))
		case "/304":
			c.Reply(304, []byte("Etag: \"1\"\r\n"), nil)
		case "/103":
			c.Reply(103, []byte("Link: </a.css>\r\n"), nil) // interim: not the response
			c.Reply(200, []byte{}, []byte("ok"))
		}
	}))
	_, addr := h.listen(true)
	got := rawExchange(t, h, addr, "GET /204 HTTP/1.1\r\n\r\nGET /304 HTTP/1.1\r\n\r\nGET /103 HTTP/1.1\r\nConnection: close\r\n\r\n")
	want := "HTTP/1.1 204 No Content\r\n\r\n" +
		"HTTP/1.1 304 Not Modified\r\nEtag: \"1\"\r\n\r\n" +
		"HTTP/1.1 103 \r\nLink: </a.css>\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: " + pad("2") + "\r\n\r\nok"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestReplyHeadKeepsLengthDropsBody(t *testing.T) {
	h := newHarness(t, nil, replyOn(EvHTTPMsg, func(c *Conn, m *HTTPMessage) {
		c.Reply(200, nil, []byte("hello"))
	}))
	_, addr := h.listen(true)
	got := rawExchange(t, h, addr, "HEAD / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n")
	want := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + pad("5") + "\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: " + pad("5") + "\r\n\r\nhello"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestHTTP10KeepAliveThenClose(t *testing.T) {
	h := newHarness(t, nil, replyOn(EvHTTPMsg, func(c *Conn, m *HTTPMessage) {
		c.Reply(200, []byte{}, m.URIBytes())
	}))
	l, addr := h.listen(true)
	got := rawExchange(t, h, addr, "GET /a HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET /b HTTP/1.0\r\n\r\nGET /c HTTP/1.0\r\n\r\n")
	want := "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: " + pad("2") + "\r\n\r\n/a" +
		"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: " + pad("2") + "\r\n\r\n/b"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	h.until("close", func() bool { return h.accepted(l)[0].IsClosed() })
	if n := h.count(h.accepted(l)[0], EvHTTPMsg); n != 2 {
		t.Fatalf("%d requests served, want 2 (the third came after the close)", n)
	}
}

// A handler's own Connection header is kept, and "close" there closes.
func TestReplyOwnConnectionHeader(t *testing.T) {
	h := newHarness(t, nil, replyOn(EvHTTPMsg, func(c *Conn, m *HTTPMessage) {
		c.Reply(200, []byte("connection: Close\r\n"), []byte("x"))
	}))
	_, addr := h.listen(true)
	got := rawExchange(t, h, addr, "GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n")
	want := "HTTP/1.1 200 OK\r\nconnection: Close\r\nContent-Length: " + pad("1") + "\r\n\r\nx"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

const chunkedHead = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"

func streamHandler(c *Conn, m *HTTPMessage) {
	c.Send([]byte(chunkedHead))
	c.HTTPChunk([]byte("ab"))
	c.HTTPSSE([]byte("t"), []byte("d"))
	c.HTTPChunk(nil)
}

func TestChunkedStreamToHTTP10IsCloseDelimited(t *testing.T) {
	h := newHarness(t, nil, replyOn(EvHTTPMsg, streamHandler))
	_, addr := h.listen(true)
	got := rawExchange(t, h, addr, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	want := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nabevent: t\ndata: d\n\n"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestChunkedStreamConnectionClose(t *testing.T) {
	h := newHarness(t, nil, replyOn(EvHTTPMsg, streamHandler))
	_, addr := h.listen(true)
	got := rawExchange(t, h, addr, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
	want := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
		"2\r\nab\r\n12\r\nevent: t\ndata: d\n\n\r\n0\r\n\r\n"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

// A response finished outside the request's callback still closes.
func TestDeferredReplyConnectionClose(t *testing.T) {
	var pending *Conn
	h := newHarness(t, nil, replyOn(EvHTTPMsg, func(c *Conn, m *HTTPMessage) { pending = c }))
	l, addr := h.listen(true)
	ch := rawClient(addr, []byte("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"), false)
	h.until("request", func() bool { return pending != nil })
	pending.Reply(200, []byte{}, []byte("late"))
	r := recv(h, "client", ch)
	want := "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: " + pad("4") + "\r\n\r\nlate"
	if string(r.data) != want {
		t.Fatalf("got  %q\nwant %q", r.data, want)
	}
	h.until("close", func() bool { return h.accepted(l)[0].IsClosed() })
}

// expectClient sends a head with Expect: 100-continue, reads what comes
// before sending the body (the interim 100, or a final refusal and EOF),
// then sends the body and reads until EOF.
func expectClient(addr, head, body string) <-chan [2]string {
	ch := make(chan [2]string, 1)
	go func() {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			ch <- [2]string{"dial: " + err.Error()}
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		conn.Write([]byte(head))
		br := bufio.NewReader(conn)
		var first bytes.Buffer
		for !strings.HasSuffix(first.String(), "\r\n\r\n") {
			line, err := br.ReadString('\n')
			first.WriteString(line)
			if err != nil {
				break
			}
		}
		if !strings.HasPrefix(first.String(), "HTTP/1.1 100 ") {
			rest, _ := io.ReadAll(br)
			ch <- [2]string{first.String() + string(rest)}
			return
		}
		conn.Write([]byte(body))
		rest, _ := io.ReadAll(br)
		ch <- [2]string{first.String(), string(rest)}
	}()
	return ch
}

func TestExpect100Continue(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxBodySize = 10
	h := newHarness(t, &lim, func(c *Conn, ev Event, data any) Result {
		m, _ := data.(*HTTPMessage)
		switch {
		case ev == EvHTTPHdrs && string(m.URIBytes()) == "/refuse":
			c.Reply(401, []byte{}, []byte("no"))
		case ev == EvHTTPMsg:
			c.Reply(200, []byte{}, m.Body)
		}
		return ResultOK
	})
	l, addr := h.listen(true)

	got := recv(h, "accepted", expectClient(addr,
		"POST /up HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n", "hello"))
	want := [2]string{"HTTP/1.1 100 Continue\r\n\r\n",
		"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: " + pad("5") + "\r\n\r\nhello"}
	if got != want {
		t.Fatalf("accepted:\n got %q\nwant %q", got, want)
	}

	// Over max_body_size: a final 413, no 100.
	got = recv(h, "too big", expectClient(addr,
		"POST /up HTTP/1.1\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n", "x"))
	want = [2]string{"HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: " + pad("0") + "\r\n\r\n"}
	if got != want {
		t.Fatalf("413:\n got %q\nwant %q", got, want)
	}

	// Refused by the EvHTTPHdrs handler: its answer, no 100, no EvHTTPMsg.
	got = recv(h, "refused", expectClient(addr,
		"POST /refuse HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", "x"))
	want = [2]string{"HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: " + pad("2") + "\r\n\r\nno"}
	if got != want {
		t.Fatalf("refused:\n got %q\nwant %q", got, want)
	}
	a := h.accepted(l)
	h.until("closed", func() bool { return a[len(a)-1].IsClosed() })
	if n := h.count(a[len(a)-1], EvHTTPMsg); n != 0 {
		t.Fatalf("EvHTTPMsg for a refused request")
	}

	// The body already arrived with the head: no 100 (RFC 9110 §10.1.1).
	r := rawExchange(t, h, addr, "POST /up HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\nhi")
	if want := "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: " + pad("2") + "\r\n\r\nhi"; r != want {
		t.Fatalf("body with head:\n got %q\nwant %q", r, want)
	}
}

func TestAbsoluteFormServeDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/p.txt", []byte("pee"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, nil, replyOn(EvHTTPMsg, func(c *Conn, m *HTTPMessage) {
		c.ServeDir(m, dir, ServeOptions{})
	}))
	_, addr := h.listen(true)
	got := rawExchange(t, h, addr, "GET http://"+addr+"/p.txt?q=1 HTTP/1.1\r\nHost: "+addr+"\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(got)), nil)
	if err != nil || resp.StatusCode != 200 || bodyOf(resp) != "pee" {
		t.Fatalf("absolute-form target: %q", got)
	}
}

// FuzzResponseHead checks the head rewrite of a response written with
// send(): never a panic, the status line and everything after the head
// untouched, no Transfer-Encoding left for an HTTP/1.0 client whose body
// goes out unframed, and output other than a complete head passed as is.
func FuzzResponseHead(f *testing.F) {
	for _, s := range []string{
		chunkedHead + "5\r\nhello\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nhi",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\ntransfer-encoding:chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\n",
		"HTTP/\r\n\r\n",
		"raw bytes",
	} {
		f.Add([]byte(s), byte(0))
		f.Add([]byte(s), byte(7))
	}
	f.Fuzz(func(t *testing.T, data []byte, mode byte) {
		c := &Conn{http: &httpConn{server: true, inProgress: true}}
		c.http.req = reqFraming{http10: mode&1 != 0, close: mode&2 != 0, head: mode&4 != 0}
		c.queueOutput(data)
		out := c.send.data()
		end := crlfHeadEnd(data)
		if end < 0 || len(data) < 12 || string(data[:5]) != "HTTP/" {
			if !bytes.Equal(out, data) {
				t.Fatalf("changed %q -> %q", data, out)
			}
			return
		}
		status := data[:bytes.IndexByte(data, '\n')+1]
		if !bytes.HasPrefix(out, status) || !bytes.HasSuffix(out, data[end-2:]) {
			t.Fatalf("%q -> %q", data, out)
		}
		if c.http.req.rawBody {
			oe := crlfHeadEnd(out)
			if oe < 0 || bytes.Contains(bytes.ToLower(out[:oe]), []byte("\ntransfer-encoding:")) || !c.http.req.close {
				t.Fatalf("HTTP/1.0 head %q", out)
			}
		}
	})
}

// A handler that sends its own "100 Continue" from EvHTTPHdrs (as code
// written for Mongoose does) gets no second one from the engine.
func TestOwn100ContinueNotDoubled(t *testing.T) {
	h := newHarness(t, nil, func(c *Conn, ev Event, data any) Result {
		switch ev {
		case EvHTTPHdrs:
			c.Send([]byte("HTTP/1.1 100 Continue\r\n\r\n"))
		case EvHTTPMsg:
			c.Reply(200, []byte{}, data.(*HTTPMessage).Body)
		}
		return ResultOK
	})
	_, addr := h.listen(true)
	got := recv(h, "client", expectClient(addr,
		"POST / HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n", "ok"))
	want := [2]string{"HTTP/1.1 100 Continue\r\n\r\n",
		"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: " + pad("2") + "\r\n\r\nok"}
	if got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}
