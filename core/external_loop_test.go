package core

import (
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fdReadable waits up to ms for the Manager's descriptor to be readable,
// as an external loop's selector would.
func fdReadable(t *testing.T, m *Manager, ms int) bool {
	t.Helper()
	fds := []unix.PollFd{{Fd: int32(m.Fd()), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, ms)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		return n > 0
	}
}

// driveUntil plays an external loop: wait on Fd for at most NextTimeout,
// then Poll(0), until cond holds (bounded).
func driveUntil(t *testing.T, m *Manager, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timeout waiting for %s", what)
		}
		wait := m.NextTimeout(time.Time{})
		if wait < 0 || wait > 100 {
			wait = 100
		}
		fdReadable(t, m, wait)
		m.Poll(0)
	}
}

func TestExternalLoopIdleManagerHasNothingDue(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.listen(true)
	h.m.Poll(0)
	if d := h.m.NextTimeout(time.Time{}); d != -1 {
		t.Fatalf("idle NextTimeout = %d, want -1", d)
	}
	if fdReadable(t, h.m, 0) {
		t.Fatal("an idle Manager's descriptor is readable")
	}
}

func TestExternalLoopServesHTTPThroughFd(t *testing.T) {
	h := newHarness(t, nil, func(c *Conn, ev Event, data any) Result {
		if ev == EvHTTPMsg {
			c.Reply(200, nil, []byte("ok"))
		}
		return ResultOK
	})
	_, addr := h.listen(true)
	got := make(chan string, 1)
	go func() {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			got <- err.Error()
			return
		}
		defer conn.Close()
		conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		buf := make([]byte, 4096)
		n, _ := conn.Read(buf)
		got <- string(buf[:n])
	}()
	var answer string
	driveUntil(t, h.m, "the response", func() bool {
		select {
		case answer = <-got:
			return true
		default:
			return false
		}
	})
	if len(answer) < 12 || answer[:12] != "HTTP/1.1 200" {
		t.Fatalf("answer %q", answer)
	}
}

// Output queued outside Process (as an asyncio task does) is due at once.
func TestExternalLoopSendOutsideProcessIsDueNow(t *testing.T) {
	var srv *Conn
	h := newHarness(t, nil, func(c *Conn, ev Event, data any) Result {
		if ev == EvAccept {
			srv = c
		}
		return ResultOK
	})
	_, addr := h.listen(false)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	driveUntil(t, h.m, "the accept", func() bool { return srv != nil })
	h.m.Poll(0)
	if d := h.m.NextTimeout(time.Time{}); d != -1 {
		t.Fatalf("NextTimeout before the send = %d", d)
	}
	srv.Send([]byte("hello"))
	if d := h.m.NextTimeout(time.Time{}); d != 0 {
		t.Fatalf("NextTimeout after a send outside Process = %d, want 0", d)
	}
	h.m.Poll(0)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 5)
	if _, err := conn.Read(buf); err != nil || string(buf) != "hello" {
		t.Fatalf("read %q %v", buf, err)
	}
}

func TestExternalLoopWakeupFromGoroutineMakesFdReadable(t *testing.T) {
	var got []byte
	m, err := NewManager(func(c *Conn, ev Event, data any) Result {
		if ev == EvWakeup {
			got = data.([]byte)
		}
		return ResultOK
	}, Options{Limits: DefaultLimits(), EnableWakeup: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	l, _ := m.Listen("tcp://127.0.0.1:0", ListenOptions{})
	m.Poll(0)
	if fdReadable(t, m, 0) {
		t.Fatal("readable before the wakeup")
	}
	go m.Wakeup(l.ID(), []byte("ping"))
	if !fdReadable(t, m, 10000) {
		t.Fatal("a wakeup from another goroutine did not make Fd readable")
	}
	driveUntil(t, m, "the wakeup", func() bool { return got != nil })
	if string(got) != "ping" {
		t.Fatalf("wakeup data %q", got)
	}
}

func TestExternalLoopTimerSetsNextTimeout(t *testing.T) {
	h := newHarness(t, nil, nil)
	fired := 0
	h.m.TimerAdd(300, false, false, func() Result { fired++; return ResultOK })
	now := time.Now()
	d := h.m.NextTimeout(now)
	if d <= 0 || d > 300 {
		t.Fatalf("NextTimeout with a 300 ms timer = %d", d)
	}
	if later := h.m.NextTimeout(now.Add(time.Second)); later != 0 {
		t.Fatalf("NextTimeout once the timer is due = %d, want 0", later)
	}
	driveUntil(t, h.m, "the timer", func() bool { return fired == 1 })
	if d := h.m.NextTimeout(time.Time{}); d != -1 {
		t.Fatalf("NextTimeout after the one-shot fired = %d, want -1", d)
	}
}

func TestExternalLoopClosedManager(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.m.Close()
	if h.m.Fd() != -1 || h.m.NextTimeout(time.Time{}) != -1 {
		t.Fatalf("closed Manager: Fd %d NextTimeout %d", h.m.Fd(), h.m.NextTimeout(time.Time{}))
	}
}
