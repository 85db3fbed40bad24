package core

import (
	"fmt"
	"net"
	"strings"
	"testing"
)

// goBatcher is a PollBatcher in Go, as a binding would write it in C.
func goBatcher(d Dispatcher, sizes *[]int) PollBatcher {
	return func(conns []*Conn, stop *uint32) (int, bool) {
		*sizes = append(*sizes, len(conns))
		for i, c := range conns {
			if c.IsClosed() {
				continue
			}
			if d(c, EvPoll, nil) == ResultAbort {
				return i + 1, true
			}
			if *stop != 0 {
				return i + 1, false
			}
		}
		return len(conns), false
	}
}

// pollAction is what a POLL handler does in a scenario: it gets the
// iteration number and the POLLed connection.
type pollAction func(m *Manager, iter int, c *Conn) Result

// runPollScenario opens n idle connections to a listener, then runs iters
// iterations calling act on every POLL, and returns the log of every event
// plus, after each iteration, what the next Wait would know (hint,
// nextDeadline set). With batched, EvPoll goes through a PollBatcher.
func runPollScenario(t *testing.T, batched, httpListener bool, n, iters int, before func(iter int, clients []net.Conn),
	act pollAction) (log []string, sizes []int) {
	t.Helper()
	var m *Manager
	iter := 0
	setup := true
	d := func(c *Conn, ev Event, data any) Result {
		if setup {
			return ResultOK
		}
		log = append(log, fmt.Sprintf("%d:%d:%v", iter, c.ID(), ev))
		if ev == EvPoll && act != nil {
			return act(m, iter, c)
		}
		return ResultOK
	}
	m, err := NewManager(d, Options{Limits: DefaultLimits()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	l, err := m.Listen("tcp://127.0.0.1:0", ListenOptions{HTTP: httpListener})
	if err != nil {
		t.Fatal(err)
	}
	var clients []net.Conn
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for len(clients) < n {
		c, err := net.Dial("tcp", l.LocalAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		for len(m.Conns()) < len(clients)+1 {
			m.Poll(10)
		}
	}
	m.Poll(0)
	setup = false
	if batched {
		m.SetPollBatcher(goBatcher(d, &sizes))
	}
	for iter = 1; iter <= iters && !m.Closed(); iter++ {
		if before != nil {
			before(iter, clients)
		}
		m.Wait(0)
		aborted := m.Process()
		log = append(log, fmt.Sprintf("%d: aborted=%v hint=%v deadline=%v closed=%v",
			iter, aborted, m.hint, !m.nextDeadline.IsZero(), m.Closed()))
	}
	return log, sizes
}

// samePollOrder runs a scenario with and without a batcher and requires the
// same events in the same global order and the same loop state.
func samePollOrder(t *testing.T, httpListener bool, n, iters int, before func(int, []net.Conn), act pollAction) []int {
	t.Helper()
	plain, _ := runPollScenario(t, false, httpListener, n, iters, before, act)
	batched, sizes := runPollScenario(t, true, httpListener, n, iters, before, act)
	if strings.Join(plain, "\n") != strings.Join(batched, "\n") {
		for i := 0; i < len(plain) || i < len(batched); i++ {
			var a, b string
			if i < len(plain) {
				a = plain[i]
			}
			if i < len(batched) {
				b = batched[i]
			}
			if a != b {
				t.Fatalf("event %d differs: one by one %q, batched %q\n(batch sizes %v)", i, a, b, sizes)
			}
		}
	}
	return sizes
}

func TestPollBatchIdle(t *testing.T) {
	sizes := samePollOrder(t, true, 20, 3, nil, nil)
	// Listener and 20 idle conns: one run of 21 per iteration.
	if len(sizes) != 3 || sizes[0] != 21 {
		t.Fatalf("batch sizes %v, want 3 runs of 21", sizes)
	}
}

func TestPollBatchReadableSplitsRuns(t *testing.T) {
	before := func(iter int, cl []net.Conn) {
		if iter == 2 {
			cl[3].Write([]byte("ping"))
			cl[10].Write([]byte("pong"))
		}
	}
	sizes := samePollOrder(t, false, 16, 3, before, nil)
	if len(sizes) < 4 {
		t.Fatalf("batch sizes %v: readable conns should split the runs", sizes)
	}
}

func TestPollBatchHandlerActions(t *testing.T) {
	var byID map[uint64]*Conn
	act := func(m *Manager, iter int, c *Conn) Result {
		if byID == nil || iter == 1 && c.ID() == 21 {
			byID = map[uint64]*Conn{}
			for _, x := range m.Conns() {
				byID[x.ID()] = x
			}
		}
		switch {
		case iter == 1 && c.ID() == 18:
			c.Send([]byte("own")) // own output: written before the next POLL
		case iter == 1 && c.ID() == 16:
			byID[12].Close() // a later conn of the run
		case iter == 1 && c.ID() == 14:
			byID[17].Send([]byte("earlier")) // a conn whose turn is over: hint
		case iter == 2 && c.ID() == 15:
			c.Drain()
		case iter == 2 && c.ID() == 13:
			byID[19].Error("boom") // earlier conn: closed in its next turn
		case iter == 2 && c.ID() == 11:
			byID[10].Error("later") // a later conn of the run
		case iter == 3 && c.ID() == 9:
			return ResultAbort
		case iter == 4 && c.ID() == 8:
			c.Close()
		case iter == 4 && c.ID() == 6:
			byID[20].Drain()
		case iter == 5 && c.ID() == 7:
			m.Close() // deferred to the end of Process
		}
		return ResultOK
	}
	samePollOrder(t, false, 20, 7, nil, act)
	byID = nil
	samePollOrder(t, true, 20, 7, nil, act)
}

func TestPollBatchAbortInNestedEvent(t *testing.T) {
	var victim *Conn
	act := func(m *Manager, iter int, c *Conn) Result {
		if iter == 1 && c.ID() == 9 {
			for _, x := range m.Conns() {
				if x.ID() == 4 {
					victim = x
				}
			}
			victim.Close()
		}
		return ResultOK
	}
	// The victim's CLOSE handler aborts: the run stops after the POLL that
	// closed it, like the one-by-one pass.
	plain := func(batched bool) []string {
		var m *Manager
		var log []string
		var sizes []int
		setup := true
		d := func(c *Conn, ev Event, data any) Result {
			if setup {
				return ResultOK
			}
			log = append(log, fmt.Sprintf("%d:%v", c.ID(), ev))
			if ev == EvClose && c == victim {
				return ResultAbort
			}
			if ev == EvPoll {
				return act(m, 1, c)
			}
			return ResultOK
		}
		m, _ = NewManager(d, Options{Limits: DefaultLimits()})
		defer m.Close()
		l, _ := m.Listen("tcp://127.0.0.1:0", ListenOptions{})
		var cl []net.Conn
		for len(cl) < 10 {
			c, err := net.Dial("tcp", l.LocalAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			cl = append(cl, c)
			for len(m.Conns()) < len(cl)+1 {
				m.Poll(10)
			}
		}
		m.Poll(0)
		setup = false
		if batched {
			m.SetPollBatcher(goBatcher(d, &sizes))
		}
		m.Wait(0)
		log = append(log, fmt.Sprintf("aborted=%v", m.Process()))
		m.Wait(0)
		log = append(log, fmt.Sprintf("aborted=%v", m.Process()))
		return log
	}
	a, b := plain(false), plain(true)
	if strings.Join(a, " ") != strings.Join(b, " ") {
		t.Fatalf("one by one:\n%v\nbatched:\n%v", a, b)
	}
}

func TestPollBatchWithoutBatcher(t *testing.T) {
	log, sizes := runPollScenario(t, false, false, 5, 2, nil, nil)
	if len(sizes) != 0 {
		t.Fatal("batcher called without being set")
	}
	polls := 0
	for _, s := range log {
		if strings.HasSuffix(s, ":MG_EV_POLL") && !strings.HasPrefix(s, "3:") { // 3: m.Close
			polls++
		}
	}
	if polls != 12 {
		t.Fatalf("%d POLLs, want 12:\n%s", polls, strings.Join(log, "\n"))
	}
}

// BenchmarkPollIdle1000Batched is BenchmarkPollIdle1000 with a Go
// PollBatcher: the engine's share of a batched EvPoll.
func BenchmarkPollIdle1000Batched(b *testing.B) { benchPollIdle(b, true) }
