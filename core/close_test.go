package core

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestCloseRightAfterReply(t *testing.T) {
	var closedBeforeReturn, idKept bool
	var inClose bool
	h := newHarness(t, nil, func(c *Conn, ev Event, data any) Result {
		switch ev {
		case EvHTTPMsg:
			c.Reply(200, nil, []byte("dropped"))
			c.Close()
			closedBeforeReturn = inClose && c.IsClosed()
		case EvClose:
			inClose = true
			idKept = c.ID() != 0 && c.IsClosing()
			c.Close() // no-op
			c.Drain() // no-op
		}
		return ResultOK
	})
	l, addr := h.listen(true)
	r := recv(h, "client", rawClient(addr, []byte(getReq), false))
	if len(r.data) != 0 || r.err != nil {
		t.Fatalf("client got %q %v, want plain EOF", r.data, r.err)
	}
	if !closedBeforeReturn || !idKept {
		t.Fatalf("closedBeforeReturn=%v idKept=%v", closedBeforeReturn, idKept)
	}
	c := h.accepted(l)[0]
	if h.count(c, EvClose) != 1 || h.count(c, EvRead) != 0 || h.count(c, EvWrite) != 0 {
		t.Fatalf("events %v", h.events(c))
	}
}

func TestCloseTwiceHarmless(t *testing.T) {
	h := newHarness(t, nil, nil)
	l, addr := h.listen(false)
	conn, _ := net.Dial("tcp", addr)
	defer conn.Close()
	h.until("accept", func() bool { return len(h.accepted(l)) == 1 })
	c := h.accepted(l)[0]
	c.Close()
	c.Close()
	c.Drain()
	c.Error("x")
	if err := c.Send([]byte("x")); err == nil {
		t.Fatal("send on closed conn succeeded")
	}
	h.pollOnce(0)
	if h.count(c, EvClose) != 1 || h.count(c, EvError) != 0 {
		t.Fatalf("events %v", h.events(c))
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("peer: %v", err)
	}
}

func TestClosingListenerFreesPort(t *testing.T) {
	h := newHarness(t, nil, nil)
	l, _ := h.listen(false)
	port := l.LocalAddr().Port
	l.Close()
	if !l.IsClosed() {
		t.Fatal("listener not closed")
	}
	l2, err := h.m.Listen("tcp://127.0.0.1:"+itoa(port), ListenOptions{})
	if err != nil {
		t.Fatalf("re-listen: %v", err)
	}
	if l2.LocalAddr().Port != port {
		t.Fatal("port")
	}
	// Drain closes a listener at the end of its turn.
	l2.Drain()
	h.pollOnce(0)
	if !l2.IsClosed() {
		t.Fatal("drained listener still open")
	}
	if _, err := h.m.Listen("tcp://127.0.0.1:"+itoa(port), ListenOptions{}); err != nil {
		t.Fatalf("re-listen after drain: %v", err)
	}
}

func TestListenPortInUse(t *testing.T) {
	h := newHarness(t, nil, nil)
	_, addr := h.listen(false)
	if _, err := h.m.Listen("tcp://"+addr, ListenOptions{}); err == nil {
		t.Fatal("second listen on the same port succeeded")
	}
	if _, err := h.m.Listen("tcp://999.1.1.1:0", ListenOptions{}); err == nil {
		t.Fatal("bad address accepted")
	}
}

func TestCloseNextConnInPass(t *testing.T) {
	var a, b *Conn
	var afterClose int
	h := newHarness(t, nil, nil)
	h.on = func(c *Conn, ev Event, data any) Result {
		if c == a && c.IsClosed() {
			afterClose++
		}
		if ev == EvPoll && c == b && a != nil && !a.IsClosed() {
			a.Close() // a is older, so the pass visits it right after b
			b.Close() // and the current one too
		}
		return ResultOK
	}
	l, addr := h.listen(false)
	c1, _ := net.Dial("tcp", addr)
	defer c1.Close()
	h.until("first", func() bool { return len(h.accepted(l)) == 1 })
	c2, _ := net.Dial("tcp", addr)
	defer c2.Close()
	c1.Write([]byte("data for a"))
	h.until("second", func() bool { return len(h.accepted(l)) == 2 })
	a, b = h.accepted(l)[0], h.accepted(l)[1]
	h.pollOnce(0)
	if !a.IsClosed() || !b.IsClosed() || h.count(a, EvClose) != 1 || h.count(b, EvClose) != 1 {
		t.Fatalf("a %v b %v", h.events(a), h.events(b))
	}
	// Nothing after EvClose in that Process.
	ev := h.events(a)
	if ev[len(ev)-1] != EvClose || afterClose != 0 {
		t.Fatalf("events after close: %v", ev)
	}
	h.pollOnce(0)
	if len(h.m.Conns()) != 1 {
		t.Fatalf("conns %d", len(h.m.Conns()))
	}
}

func TestConnsCreatedDuringPassWaitForNextPass(t *testing.T) {
	var created *Conn
	h := newHarness(t, nil, nil)
	h.poll = true
	l, _ := h.listen(false)
	h.on = func(c *Conn, ev Event, data any) Result {
		if ev == EvPoll && c == l && created == nil {
			created, _ = h.m.Listen("tcp://127.0.0.1:0", ListenOptions{})
		}
		return ResultOK
	}
	h.pollOnce(0)
	if created == nil || h.count(created, EvPoll) != 0 || h.count(created, EvOpen) != 1 {
		t.Fatalf("events %v", h.summary(nil))
	}
	h.pollOnce(0)
	if h.count(created, EvPoll) != 1 {
		t.Fatal("new conn not polled in the next pass")
	}
}

func TestManagerCloseDeliversPollThenClose(t *testing.T) {
	h := newHarness(t, nil, nil)
	l, addr := h.listen(true)
	conn, _ := net.Dial("tcp", addr)
	defer conn.Close()
	h.until("accept", func() bool { return len(h.accepted(l)) == 1 })
	out, _ := h.m.Connect("tcp://"+addr, ConnectOptions{})
	h.poll = true
	all := h.m.Conns()
	if len(all) != 3 {
		t.Fatalf("conns %d", len(all))
	}
	h.m.Close()
	if !h.m.Closed() {
		t.Fatal("not closed")
	}
	for _, c := range append(all, out) {
		ev := h.events(c)
		n := len(ev)
		if !c.IsClosed() || n < 2 || ev[n-2] != EvPoll || ev[n-1] != EvClose || h.count(c, EvClose) != 1 {
			t.Fatalf("conn %d events %v", c.ID(), ev)
		}
	}
	h.m.Close() // idempotent
	if h.m.Process() {
		t.Fatal("process after close")
	}
}

func TestManagerCloseFromHandlerIsDeferred(t *testing.T) {
	var deferred bool
	h := newHarness(t, nil, nil)
	h.on = func(c *Conn, ev Event, data any) Result {
		if ev == EvPoll && !deferred {
			h.m.Close()
			deferred = !h.m.Closed() && h.m.InProcess()
		}
		return ResultOK
	}
	l, _ := h.listen(false)
	h.pollOnce(0)
	if !deferred || !h.m.Closed() || !l.IsClosed() {
		t.Fatalf("deferred=%v closed=%v", deferred, h.m.Closed())
	}
}

func TestErrorTruncatesAndCloses(t *testing.T) {
	var got string
	h := newHarness(t, nil, func(c *Conn, ev Event, data any) Result {
		if ev == EvError {
			got = data.(string)
		}
		return ResultOK
	})
	l, _ := h.listen(false)
	msg := strings.Repeat("a", 62) + "é" + "tail"
	l.Error(msg)
	if got != strings.Repeat("a", 62) || !utf8.ValidString(got) {
		t.Fatalf("got %q", got)
	}
	if !l.IsClosing() || l.IsClosed() {
		t.Fatal("error must mark closing only")
	}
	h.pollOnce(0)
	if !l.IsClosed() {
		t.Fatal("not closed in the next iteration")
	}
}
