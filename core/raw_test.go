package core

import (
	"net"
	"testing"
	"time"
)

func TestRawTCPBufferNotConsumed(t *testing.T) {
	var lens []int
	h := newHarness(t, nil, func(c *Conn, ev Event, data any) Result {
		if ev == EvRead {
			lens = append(lens, c.RecvLen())
		}
		return ResultOK
	})
	l, addr := h.listen(false)
	conn, _ := net.Dial("tcp", addr)
	conn.Write([]byte("hello"))
	h.until("first read", func() bool { return len(lens) == 1 })
	conn.Write([]byte("world"))
	h.until("second read", func() bool { return len(lens) == 2 })
	c := h.accepted(l)[0]
	if lens[0] != 5 || lens[1] != 10 || string(c.RecvData()) != "helloworld" || c.RecvSize() != 32768 {
		t.Fatalf("lens %v data %q size %d", lens, c.RecvData(), c.RecvSize())
	}
	conn.Close()
	h.until("close", c.IsClosed)
	want := evs(EvOpen, EvAccept, EvRead, EvRead, EvClose)
	if got := h.events(c); !sameEvents(got, want) {
		t.Fatalf("events %v", got)
	}
}

func TestMaxRecvSizeRaw(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxRecvSize = 64 << 10
	var errText string
	h := newHarness(t, &lim, func(c *Conn, ev Event, data any) Result {
		if ev == EvError {
			errText = data.(string)
		}
		return ResultOK
	})
	l, addr := h.listen(false)
	go func() {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		conn.Write(make([]byte, 256<<10))
		conn.Read(make([]byte, 1))
	}()
	h.until("close", func() bool { a := h.accepted(l); return len(a) == 1 && a[0].IsClosed() })
	c := h.accepted(l)[0]
	ev := h.events(c)
	if errText != "MG_MAX_RECV_SIZE" || ev[len(ev)-2] != EvError || ev[len(ev)-1] != EvClose {
		t.Fatalf("error %q events %v", errText, ev)
	}
}

func TestSendSizes(t *testing.T) {
	h := newHarness(t, nil, nil)
	l, _ := h.listen(false)
	if err := l.Send(nil); err == nil || err.Error() != "mg_send failed" {
		t.Fatalf("empty send: %v", err)
	}
	l.Send(make([]byte, 100))
	if l.SendLen() != 100 || l.SendSize() != 16384 {
		t.Fatalf("len %d size %d", l.SendLen(), l.SendSize())
	}
	l.Send(make([]byte, 20000))
	if l.SendSize() != 32768 || len(l.SendData()) != 20100 {
		t.Fatalf("size %d", l.SendSize())
	}
}

func TestUDPEcho(t *testing.T) {
	h := newHarness(t, nil, func(c *Conn, ev Event, data any) Result {
		if ev == EvRead && c.IsListening() {
			c.Send(c.RecvData())
		}
		return ResultOK
	})
	l, err := h.m.Listen("udp://127.0.0.1:0", ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !l.IsUDP() || !l.IsListening() {
		t.Fatal("flags")
	}
	got := make(chan string, 1)
	go func() {
		conn, err := net.Dial("udp", l.LocalAddr().String())
		if err != nil {
			got <- err.Error()
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 100)
		conn.Write([]byte("one"))
		n, _ := conn.Read(buf)
		first := string(buf[:n])
		conn.Write([]byte("two"))
		n, _ = conn.Read(buf)
		got <- first + "," + string(buf[:n])
	}()
	if s := recv(h, "udp client", got); s != "one,onetwo" {
		t.Fatalf("got %q", s)
	}
}
