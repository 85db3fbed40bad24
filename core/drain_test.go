package core

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// Regression tests for the drain contract (docs/api.md §6.1, §6.2, §6.4).

func TestDrainFlagAndRecvDroppedAtOnce(t *testing.T) {
	var sawDraining, sawEmpty, msgReadable bool
	h := newHarness(t, nil, replyOn(EvHTTPMsg, func(c *Conn, msg *HTTPMessage) {
		c.Reply(200, nil, []byte("x"))
		c.Drain()
		sawDraining = c.IsDraining()
		sawEmpty = c.RecvLen() == 0
		msgReadable = string(msg.MethodBytes()) == "GET" // still valid in the handler
	}))
	_, addr := h.listen(true)
	recv(h, "client", rawClient(addr, []byte(getReq+getReq), false))
	if !sawDraining || !sawEmpty || !msgReadable {
		t.Fatalf("draining=%v recvEmpty=%v msg=%v", sawDraining, sawEmpty, msgReadable)
	}
}

func TestDrainDiscardsLaterInputAndCloses(t *testing.T) {
	body := allBytes(8 << 20)
	h := newHarness(t, nil, replyOn(EvHTTPMsg, func(c *Conn, msg *HTTPMessage) {
		c.Reply(200, nil, body)
		c.Drain()
	}))
	l, addr := h.listen(true)
	done := make(chan []byte, 1)
	go func() {
		conn, _ := net.Dial("tcp", addr)
		defer conn.Close()
		conn.Write([]byte(getReq))
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			done <- nil
			return
		}
		// Keep talking while the response streams: pipelined requests and junk.
		for i := 0; i < 20; i++ {
			conn.Write([]byte(getReq))
		}
		b, _ := io.ReadAll(resp.Body)
		rest, _ := io.ReadAll(br) // until EOF
		done <- append(b, rest...)
	}()
	got := recv(h, "client", done)
	if !bytes.Equal(got, body) {
		t.Fatalf("got %d bytes, want %d", len(got), len(body))
	}
	c := h.accepted(l)[0]
	h.until("close", c.IsClosed)
	if h.count(c, EvHTTPMsg) != 1 || h.count(c, EvHTTPHdrs) != 1 || h.count(c, EvRead) != 0 {
		t.Fatalf("events %v", h.events(c))
	}
	ev := h.events(c)
	if ev[len(ev)-1] != EvClose || ev[len(ev)-2] != EvWrite {
		t.Fatalf("EvClose must follow the last EvWrite: %v", ev)
	}
}

func TestDrainFromOwnHandlerEmptyClosesSameTurn(t *testing.T) {
	h := newHarness(t, nil, func(c *Conn, ev Event, data any) Result {
		if ev == EvRead {
			c.Drain()
		}
		return ResultOK
	})
	l, addr := h.listen(false)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("hello"))
	h.until("close", func() bool { a := h.accepted(l); return len(a) == 1 && a[0].IsClosed() })
	c := h.accepted(l)[0]
	var readIter, closeIter int
	for _, r := range h.log {
		if r.c == c && r.ev == EvRead {
			readIter = r.iter
		}
		if r.c == c && r.ev == EvClose {
			closeIter = r.iter
		}
	}
	if readIter == 0 || readIter != closeIter {
		t.Fatalf("READ in iteration %d, CLOSE in %d", readIter, closeIter)
	}
}

func TestDrainOutsideProcessClosesNextIteration(t *testing.T) {
	h := newHarness(t, nil, nil)
	l, addr := h.listen(false)
	conn, _ := net.Dial("tcp", addr)
	defer conn.Close()
	h.until("accept", func() bool { return len(h.accepted(l)) == 1 })
	c := h.accepted(l)[0]
	c.Send([]byte("queued"))
	c.Drain()
	if !c.IsDraining() {
		t.Fatal("not draining")
	}
	start := time.Now()
	h.pollOnce(1000)
	if !c.IsClosed() || time.Since(start) > 500*time.Millisecond {
		// The queued bytes are tiny: one iteration writes and closes, without waiting.
		t.Fatalf("closed=%v after %v; %v", c.IsClosed(), time.Since(start), h.events(c))
	}
	buf := make([]byte, 16)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _ := io.ReadFull(conn, buf[:6])
	if string(buf[:n]) != "queued" {
		t.Fatalf("got %q", buf[:n])
	}
	if _, err := conn.Read(buf); err != io.EOF {
		t.Fatalf("want EOF, got %v", err)
	}
}

func TestDrainStallTimeout(t *testing.T) {
	lim := DefaultLimits()
	lim.StallTimeoutMs = 200
	var errText string
	h := newHarness(t, &lim, func(c *Conn, ev Event, data any) Result {
		switch ev {
		case EvHTTPMsg:
			c.Reply(200, nil, make([]byte, 64<<20))
			c.Drain()
		case EvError:
			errText = data.(string)
		}
		return ResultOK
	})
	l, addr := h.listen(true)
	conn, _ := net.Dial("tcp", addr)
	defer conn.Close()
	conn.Write([]byte(getReq)) // and never read
	h.until("close", func() bool { a := h.accepted(l); return len(a) == 1 && a[0].IsClosed() })
	if errText != "drain timeout" {
		t.Fatalf("error %q; events %v", errText, h.events(h.accepted(l)[0]))
	}
}

func TestPeerEOFWithQueuedOutputFlushesRaw(t *testing.T) {
	body := allBytes(3 << 20)
	h := newHarness(t, nil, func(c *Conn, ev Event, data any) Result {
		if ev == EvRead && c.SendLen() == 0 && c.RecvLen() >= 4 {
			c.Send(body)
		}
		return ResultOK
	})
	_, addr := h.listen(false)
	r := recv(h, "client", rawClient(addr, []byte("ping"), true))
	if !bytes.Equal(r.data, body) {
		t.Fatalf("got %d bytes", len(r.data))
	}
}
