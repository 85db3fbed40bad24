package core

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// goServer runs a net/http server on loopback for the client tests.
func goServer(t *testing.T, hf http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: hf}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// rawServer accepts one connection, reads the request head and writes resp,
// then closes.
func rawServer(t *testing.T, resp string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		buf := make([]byte, 4096)
		var got []byte
		for !bytes.Contains(got, []byte("\r\n\r\n")) {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			got = append(got, buf[:n]...)
		}
		io.WriteString(c, resp)
	}()
	return ln.Addr().String()
}

type gotMsg struct {
	status int
	reason string
	body   string
	hdr    map[string]string
}

// fetch connects with the HTTP engine, sends req on EvConnect and collects
// the responses until the connection closes.
func fetch(t *testing.T, addr, req string) (msgs []gotMsg, h *harness, c *Conn) {
	t.Helper()
	h = newHarness(t, nil, func(c *Conn, ev Event, data any) Result {
		switch ev {
		case EvConnect:
			c.Send([]byte(req))
		case EvHTTPMsg:
			m := data.(*HTTPMessage)
			g := gotMsg{status: m.Status(), reason: string(m.ProtoBytes()), body: string(m.Body), hdr: map[string]string{}}
			for _, hs := range m.Headers {
				g.hdr[strings.ToLower(string(m.Bytes(hs.Name)))] = string(m.Bytes(hs.Value))
			}
			msgs = append(msgs, g)
		}
		return ResultOK
	})
	c, err := h.m.Connect("http://"+addr, ConnectOptions{HTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	h.until("close", c.IsClosed)
	return msgs, h, c
}

func TestHTTPClientFramings(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 80000) // 1.28 MB
	addr := goServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cl":
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			io.WriteString(w, big)
		case "/chunked":
			for i := 0; i < len(big); i += 100000 {
				io.WriteString(w, big[i:min(i+100000, len(big))])
				w.(http.Flusher).Flush()
			}
		case "/nc":
			w.WriteHeader(204)
		case "/head":
			w.Header().Set("Content-Length", "12345")
		}
	})
	for _, path := range []string{"/cl", "/chunked"} {
		msgs, h, c := fetch(t, addr, "GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if len(msgs) != 1 || msgs[0].status != 200 || msgs[0].body != big || msgs[0].reason != "OK" {
			t.Fatalf("%s: %d messages; events %s", path, len(msgs), h.summary(c))
		}
		ev := h.events(c)
		if ev[0] != EvOpen || ev[1] != EvResolve || ev[2] != EvConnect || ev[len(ev)-1] != EvClose {
			t.Fatalf("%s: events %v", path, ev)
		}
	}
	// Keep-alive: 204, then HEAD (no body despite Content-Length), then a body.
	req := "GET /nc HTTP/1.1\r\nHost: x\r\n\r\nHEAD /head HTTP/1.1\r\nHost: x\r\n\r\n" +
		"POST /cl HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"
	msgs, h, c := fetch(t, addr, req)
	if len(msgs) != 3 || msgs[0].status != 204 || msgs[1].status != 200 || msgs[1].body != "" ||
		msgs[1].hdr["content-length"] != "12345" || msgs[2].body != big {
		t.Fatalf("keep-alive: %+v; %s", len(msgs), h.summary(c))
	}
}

func TestHTTPClientCloseDelimited(t *testing.T) {
	addr := rawServer(t, "HTTP/1.0 200 Fine Thanks\r\nX: y\r\n\r\nuntil the end")
	msgs, h, c := fetch(t, addr, "GET / HTTP/1.0\r\n\r\n")
	if len(msgs) != 1 || msgs[0].body != "until the end" || msgs[0].reason != "Fine Thanks" {
		t.Fatalf("%+v", msgs)
	}
	ev := h.events(c)
	if ev[len(ev)-2] != EvHTTPMsg || ev[len(ev)-1] != EvClose {
		t.Fatalf("HTTP_MSG must come right before CLOSE: %v", ev)
	}
}

func TestHTTPClientInterimAndErrors(t *testing.T) {
	addr := rawServer(t, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n"+
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
	msgs, _, _ := fetch(t, addr, "GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n")
	if len(msgs) != 3 || msgs[0].status != 100 || msgs[1].status != 304 || msgs[1].body != "" || msgs[2].body != "abc" {
		t.Fatalf("%+v", msgs)
	}
	for resp, want := range map[string]string{
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n":          "Invalid Transfer-Encoding",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n": "Invalid chunk",
		"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n":                "HTTP parse error",
	} {
		addr := rawServer(t, resp)
		var errs []string
		h := newHarness(t, nil, func(c *Conn, ev Event, data any) Result {
			if ev == EvConnect {
				c.Send([]byte(getReq))
			}
			if ev == EvError {
				errs = append(errs, data.(string))
			}
			return ResultOK
		})
		c, _ := h.m.Connect("http://"+addr, ConnectOptions{HTTP: true})
		h.until("close", c.IsClosed)
		if len(errs) != 1 || errs[0] != want {
			t.Fatalf("%q: errors %q", resp, errs)
		}
	}
}

func TestHTTPClientRefused(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	h := newHarness(t, nil, nil)
	c, _ := h.m.Connect("http://"+addr, ConnectOptions{HTTP: true})
	h.until("close", c.IsClosed)
	ev := h.events(c)
	if !sameEvents(ev, evs(EvOpen, EvResolve, EvError, EvClose)) {
		t.Fatalf("events %v", ev)
	}
}

func TestHTTPClientOwnServer(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 2<<20)
	h := newHarness(t, nil, nil)
	var msgs []gotMsg
	h.on = func(c *Conn, ev Event, data any) Result {
		switch {
		case ev == EvHTTPMsg && c.parent != nil:
			m := data.(*HTTPMessage)
			if string(m.URIBytes()) == "/chunked" {
				c.Reply(200, []byte("Transfer-Encoding: chunked\r\n"), nil)
				c.HTTPChunk(body[:1000])
				c.HTTPSSE([]byte("tick"), []byte("1"))
				c.HTTPChunk(nil)
			} else {
				c.Reply(200, nil, body)
			}
		case ev == EvConnect:
			c.Send([]byte("GET /big HTTP/1.1\r\n\r\nGET /chunked HTTP/1.1\r\n"))
			c.HTTPBasicAuth("user", "pass")
			c.Send([]byte("\r\n"))
		case ev == EvHTTPMsg:
			m := data.(*HTTPMessage)
			msgs = append(msgs, gotMsg{status: m.Status(), body: string(m.Body)})
			if len(msgs) == 2 {
				c.Close()
			}
		}
		return ResultOK
	}
	_, addr := h.listen(true)
	c, _ := h.m.Connect("http://"+addr, ConnectOptions{HTTP: true})
	h.until("close", c.IsClosed)
	// reply() sends Content-Length: 0 padded next to Transfer-Encoding; TE wins.
	want := string(body[:1000]) + "event: tick\ndata: 1\n\n"
	if len(msgs) != 2 || msgs[0].body != string(body) || msgs[1].body != want {
		t.Fatalf("got %d messages", len(msgs))
	}
}

func TestOutTracker(t *testing.T) {
	var tr outTracker
	stream := "HEAD / HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 20\r\n\r\nHEAD /not-a-request\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n"
	for i := 0; i < len(stream); i += 3 {
		tr.note([]byte(stream[i:min(i+3, len(stream))]))
	}
	if fmt.Sprint(tr.heads) != "[true false false]" || tr.lost {
		t.Fatalf("heads %v lost %v", tr.heads, tr.lost)
	}
	tr.note([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"))
	if !tr.lost {
		t.Fatal("chunked request bodies are not followed")
	}
}

// FuzzClientResponse feeds arbitrary bytes to the response parser, whole
// and at close, and checks that it never panics and consumes in bounds.
func FuzzClientResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: x\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nclose-delimited",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
	} {
		f.Add([]byte(s), []byte("GET / HTTP/1.1\r\n\r\n"))
		f.Add([]byte(s), []byte("HEAD / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n"))
	}
	f.Fuzz(func(t *testing.T, resp, req []byte) {
		lim := DefaultLimits()
		lim.MaxMessageSize = 1 << 16
		msgs := 0
		m, err := NewManager(func(c *Conn, ev Event, data any) Result {
			if ev == EvHTTPMsg {
				hm := data.(*HTTPMessage)
				if len(hm.Head) == 0 || len(hm.Body) > len(resp) {
					t.Fatalf("bad message head %d body %d", len(hm.Head), len(hm.Body))
				}
				msgs++
			}
			return ResultOK
		}, Options{Limits: lim})
		if err != nil {
			t.Skip(err)
		}
		defer m.Close()
		c := m.newConn(-1)
		c.set(fClient)
		c.http = newHTTPConn(false)
		c.http.out.note(req)
		c.recv.write(resp)
		m.httpClientParse(c, false)
		if c.recv.len() > len(resp) || msgs > len(resp) {
			t.Fatalf("recv %d after %d", c.recv.len(), len(resp))
		}
		if !c.has(fClosed) && !c.has(fClosing) {
			m.httpClientParse(c, true)
		}
	})
}
