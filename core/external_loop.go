package core

import "time"

// An external event loop (asyncio, uvloop, selectors) can drive a Manager
// instead of blocking in Wait: it watches Fd for readability and calls
// Poll(0) when Fd is readable or when NextTimeout says work is due.

// Fd is the engine's epoll descriptor. It is readable whenever a socket has
// news or another goroutine posted work (Wakeup, DNS answers, TLS records:
// they write the eventfd that the epoll instance watches). It is closed by
// Close; a loop that must outlive the Manager watches a dup of it.
func (m *Manager) Fd() int {
	if m.closed {
		return -1
	}
	return m.p.epfd
}

// NextTimeout is how long an external loop may wait on Fd before it must
// call Poll(0): 0 when work is pending already (output queued outside
// Process, a busy connection, queued wakeups, a due timer or deadline), the
// milliseconds to the earliest timer or connection deadline, or -1 when only
// Fd can bring work. now may be zero: the clock is read only if needed.
func (m *Manager) NextTimeout(now time.Time) int {
	if m.closed || m.closingAll {
		return -1
	}
	if m.hint || m.queued() {
		return 0
	}
	return m.dueIn(now, -1)
}

// dueIn shortens the wait to (ms; negative = forever) to the earliest
// timer or connection deadline.
func (m *Manager) dueIn(now time.Time, to int) int {
	if len(m.timers) == 0 && m.nextDeadline.IsZero() {
		return to
	}
	if now.IsZero() {
		now = time.Now()
	}
	if d, ok := m.timerWait(now); ok {
		to = minTimeout(to, d)
	}
	if !m.nextDeadline.IsZero() {
		to = minTimeout(to, ceilMs(m.nextDeadline.Sub(now)))
	}
	return to
}
