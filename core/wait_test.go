package core

import (
	"net"
	"testing"
	"time"
)

// A connection deadline that is already due makes Wait report work at once
// (it used to return "nothing ready" after a zero wait, so the binding's
// poll(n) spun until n ms had passed before Process handled the timeout).
func TestWaitReportsDueDeadline(t *testing.T) {
	lim := DefaultLimits()
	lim.HeadTimeoutMs = 30
	h := newHarness(t, &lim, nil)
	l, _ := h.m.Listen("tcp://127.0.0.1:0", ListenOptions{HTTP: true})
	conn, err := net.Dial("tcp", l.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("GET / HTTP/1.1\r\n")) // a head that never ends
	h.until("a head deadline", func() bool { return !h.m.nextDeadline.IsZero() })
	for !time.Now().After(h.m.nextDeadline) {
		time.Sleep(time.Millisecond)
	}
	if !h.m.WaitAt(time.Time{}, 10000) {
		t.Fatal("Wait did not report the due deadline")
	}
	h.m.Process()
	h.until("the 408", func() bool { return h.m.nextDeadline.IsZero() || len(h.m.Conns()) == 1 })
}

// WaitAt uses the caller's clock reading for timers.
func TestWaitAtDueTimer(t *testing.T) {
	h := newHarness(t, nil, nil)
	fired := 0
	h.m.TimerAdd(5, false, false, func() Result { fired++; return ResultOK })
	h.m.Process() // starts the timer
	if !h.m.WaitAt(time.Now().Add(time.Second), 10000) {
		t.Fatal("a timer due at the given time was not reported")
	}
	h.until("the timer", func() bool { return fired == 1 })
}
