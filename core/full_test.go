package core

import (
	"net"
	"testing"
	"time"
)

func TestSendHighWaterPausesReading(t *testing.T) {
	lim := DefaultLimits()
	lim.SendHighWater = 64 << 10
	reads := 0
	h := newHarness(t, &lim, func(c *Conn, ev Event, data any) Result {
		if ev == EvRead {
			reads++
			if reads == 1 {
				c.Send(make([]byte, 16<<20)) // the peer does not read
			}
		}
		return ResultOK
	})
	l, addr := h.listen(false)
	conn, _ := net.Dial("tcp", addr)
	defer conn.Close()
	conn.Write([]byte("a"))
	h.until("first read", func() bool { return reads == 1 })
	c := h.accepted(l)[0]
	h.until("write blocked", func() bool { h.pollOnce(0); return !c.IsWritable() })
	if !c.IsFull() {
		t.Fatalf("not full with %d queued", c.SendLen())
	}
	conn.Write([]byte("more"))
	deadline := time.Now().Add(100 * time.Millisecond)
	for time.Now().Before(deadline) {
		h.pollOnce(5)
	}
	if reads != 1 || c.RecvLen() != 1 {
		t.Fatalf("read while full: reads=%d recv=%d", reads, c.RecvLen())
	}
}
