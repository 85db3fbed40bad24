package core

import (
	"testing"
	"time"
)

func TestTimersNewestFirstCancelRepeat(t *testing.T) {
	h := newHarness(t, nil, nil)
	var order []string
	add := func(name string, ms int, repeat, runNow bool) *Timer {
		return h.m.TimerAdd(ms, repeat, runNow, func() Result {
			order = append(order, name)
			return ResultOK
		})
	}
	t1 := add("t1", 20, false, false)
	add("t2", 20, false, false)
	t3 := add("t3", 20, false, false)
	now := add("now", 100000, false, true)
	rep := add("rep", 10, true, false)
	t3.Cancel()
	h.pollOnce(0)
	if len(order) != 1 || order[0] != "now" || now.Active() {
		t.Fatalf("first poll fired %v (run_now once)", order)
	}
	h.until("t1", func() bool { return !t1.Active() })
	if t3.Active() || !rep.Active() {
		t.Fatal("active flags")
	}
	// t1 and t2 expire together: newest first.
	seen := map[string]int{}
	for i, n := range order {
		seen[n] = i + 1
	}
	if seen["t2"] == 0 || seen["t1"] != seen["t2"]+1 || seen["t3"] != 0 {
		t.Fatalf("order %v", order)
	}
	h.until("repeats", func() bool {
		n := 0
		for _, o := range order {
			if o == "rep" {
				n++
			}
		}
		return n >= 3
	})
	rep.Cancel()
	before := len(order)
	deadline := time.Now().Add(60 * time.Millisecond)
	for time.Now().Before(deadline) {
		h.pollOnce(5)
	}
	if len(order) != before || rep.Active() {
		t.Fatalf("cancelled timer fired: %v", order[before:])
	}
	if len(h.m.timers) != 0 {
		t.Fatalf("%d timers left", len(h.m.timers))
	}
}

func TestTimerBoundsWait(t *testing.T) {
	h := newHarness(t, nil, nil)
	fired := false
	h.m.TimerAdd(30, false, false, func() Result { fired = true; return ResultOK })
	start := time.Now()
	for !fired && time.Since(start) < 5*time.Second {
		h.m.Poll(10000)
	}
	if !fired || time.Since(start) > 3*time.Second {
		t.Fatalf("fired=%v after %v", fired, time.Since(start))
	}
}

func TestTimerAbortStopsIteration(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.poll = true
	l, _ := h.listen(false)
	fired := 0
	h.m.TimerAdd(1, false, true, func() Result { fired++; return ResultAbort })
	if !h.pollOnce(0) {
		t.Fatal("abort not reported")
	}
	if h.count(l, EvPoll) != 0 {
		t.Fatal("pass ran after abort")
	}
	h.pollOnce(0)
	if h.count(l, EvPoll) != 1 {
		t.Fatal("next Process did not run the pass")
	}
}

func TestHandlerAbortResumesNextProcess(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.poll = true
	a, _ := h.listen(false)
	b, _ := h.listen(false) // newer: visited first
	aborted := false
	h.on = func(c *Conn, ev Event, data any) Result {
		if ev == EvPoll && c == b && !aborted {
			aborted = true
			return ResultAbort
		}
		return ResultOK
	}
	if !h.pollOnce(0) || h.count(a, EvPoll) != 0 {
		t.Fatal("abort did not stop the pass")
	}
	if h.pollOnce(0) || h.count(a, EvPoll) != 1 {
		t.Fatal("a did not get its turn")
	}
}
