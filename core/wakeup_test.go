package core

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

func TestWakeupFromGoroutine(t *testing.T) {
	var got [][]byte
	h := newHarness(t, nil, nil)
	h.m.Close()
	m, err := NewManager(func(c *Conn, ev Event, data any) Result {
		if ev == EvWakeup {
			got = append(got, data.([]byte))
		}
		return ResultOK
	}, Options{Limits: DefaultLimits(), EnableWakeup: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.WakeupID() != 1 {
		t.Fatal("wakeup id")
	}
	l, _ := m.Listen("tcp://127.0.0.1:0", ListenOptions{})
	if l.ID() != 2 {
		t.Fatalf("listener id %d", l.ID())
	}
	big := allBytes(200000)
	go func() {
		for i := 0; i < 5; i++ {
			m.Wakeup(l.ID(), []byte(fmt.Sprint(i)))
		}
		m.Wakeup(l.ID(), big)
		m.Wakeup(l.ID(), nil)
		m.Wakeup(999, []byte("nobody"))
		m.Wakeup(1, []byte("internal"))
	}()
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < 7 && time.Now().Before(deadline) {
		m.Poll(-1) // a wakeup interrupts an unbounded wait
	}
	if len(got) != 7 {
		t.Fatalf("got %d wakeups", len(got))
	}
	for i := 0; i < 5; i++ {
		if string(got[i]) != fmt.Sprint(i) {
			t.Fatalf("order: %q", got[:5])
		}
	}
	if !bytes.Equal(got[5], big) || got[6] == nil || len(got[6]) != 0 {
		t.Fatal("payloads")
	}
	if m.Wakeup(0, nil) {
		t.Fatal("id 0 accepted")
	}
	m.Close()
	if m.Wakeup(l.ID(), nil) {
		t.Fatal("wakeup after close")
	}
}

func TestWakeupDisabled(t *testing.T) {
	h := newHarness(t, nil, nil)
	if h.m.Wakeup(1, nil) || h.m.WakeupID() != 0 {
		t.Fatal("wakeup without EnableWakeup")
	}
	l, _ := h.listen(false)
	if l.ID() != 1 {
		t.Fatal("ids start at 1")
	}
}
