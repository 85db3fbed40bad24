package core

import "time"

// Wait blocks in epoll_wait for at most timeoutMs (negative = forever, 0 =
// no wait), shortened to the earliest timer or connection deadline and to 0
// when work is already pending. It dispatches nothing: it only records
// readiness in connection flags, so the binding may call it without the
// GIL. It returns true if something is ready, pending or due, false on a
// plain timeout or EINTR.
func (m *Manager) Wait(timeoutMs int) bool { return m.WaitAt(time.Time{}, timeoutMs) }

// WaitAt is Wait with the caller's reading of the clock, or zero: then it
// reads the clock only if a timer or deadline can shorten the wait. The
// binding's poll() reads it once and passes it down.
func (m *Manager) WaitAt(now time.Time, timeoutMs int) bool {
	if m.closed || m.closingAll {
		return false
	}
	pending := m.hint || m.queued()
	to := timeoutMs
	if pending {
		to = 0
	}
	due := false
	if to != 0 {
		to = m.dueIn(now, to)
		due = to == 0
	}
	n := m.p.wait(to)
	if n < 0 {
		return false // EINTR: let the caller handle signals
	}
	ready := pending || due || n > 0
	for i := 0; i < n; i++ {
		fd, flags := m.p.event(i)
		if fd == m.p.evfd {
			m.p.drainSignal()
			continue
		}
		if fd < len(m.fds) && m.fds[fd] != nil {
			m.fds[fd].set(flags)
		}
	}
	if m.p.full(n) {
		m.hint = true // more may be queued in the kernel
	}
	if !ready && to != 0 && len(m.timers) > 0 {
		// The wait ended early (timeout rounding): is a timer due now?
		if d, ok := m.timerWait(time.Now()); ok && d == 0 {
			ready = true
		}
	}
	return ready
}

func minTimeout(to, d int) int {
	if to < 0 || d < to {
		return d
	}
	return to
}

// ceilMs rounds up so that a wait never ends just before a deadline.
func ceilMs(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms > 1<<30 {
		ms = 1 << 30
	}
	return int(ms)
}

// Process runs one iteration's work after Wait: expired timers, queued
// wakeups and DNS answers, then the per-connection pass (docs/api.md §2.2 step 3).
// It returns true if a handler returned ResultAbort; the connections not
// visited yet get their turn in the next Process.
func (m *Manager) Process() (aborted bool) {
	if m.closed || m.closingAll || m.inProcess {
		return false
	}
	m.inProcess = true
	m.aborted = false
	m.now = time.Now()
	defer m.endProcess()
	m.runTimers()
	if !m.aborted {
		m.runQueues()
	}
	if !m.aborted {
		m.runPass()
	}
	return m.aborted
}

func (m *Manager) endProcess() {
	m.inProcess = false
	m.inPass = false
	m.batching = false // in case a batcher panicked
	if m.depth != 0 {  // likewise a handler: no handler runs now
		m.depth = 1
		m.handlersDone()
	}
	if m.aborted {
		m.hint = true
		for i := range m.pass {
			m.pass[i] = nil
		}
		m.pass = m.pass[:0]
	}
	if m.closeDeferred {
		m.closeDeferred = false
		m.Close()
	}
}

// Poll is Wait followed by Process, for Go users and tests.
func (m *Manager) Poll(timeoutMs int) (aborted bool) {
	m.Wait(timeoutMs)
	return m.Process()
}

// runPass walks a snapshot of the connection list, newest first, so that
// connections created during the pass wait for the next one and closed ones
// are simply skipped.
func (m *Manager) runPass() {
	m.gen++
	m.hint = false
	m.nextDeadline = time.Time{}
	m.pass = m.pass[:0]
	for c := m.head; c != nil; c = c.next {
		m.pass = append(m.pass, c)
	}
	m.inPass = true
	for i := 0; i < len(m.pass); i++ {
		c := m.pass[i]
		if c.has(fClosed) || c.has(fInClose) {
			m.pass[i] = nil
			continue
		}
		if m.batcher != nil {
			if j := m.quietRun(i); j-i >= minPollBatch {
				i += m.pollBatch(m.pass[i:j]) - 1
				if m.aborted {
					break
				}
				continue
			}
		}
		m.pass[i] = nil
		m.turn(c)
		if m.aborted {
			break
		}
	}
	m.inPass = false
}

// turn is one connection's share of an iteration: POLL, I/O and protocol
// events, timeouts, the drain check and the close.
func (m *Manager) turn(c *Conn) {
	busy := c.httpBusy()
	c.setTo(fSeenR, c.has(fReadable))
	m.emit(c, EvPoll, nil)
	m.afterPoll(c, busy)
}

// afterPoll is the rest of c's turn once its EvPoll has been delivered;
// busy says an HTTP response was in progress before the POLL.
func (m *Manager) afterPoll(c *Conn, busy bool) {
	if c.has(fClosed) || m.aborted {
		return
	}
	if busy {
		c.httpAfterPoll()
	}
	if !c.has(fClosing) {
		switch {
		case c.has(fResolving) || c.fd < 0:
		case c.has(fListening):
			if c.has(fUDP) {
				if c.canRead() && m.readStep(c) && !c.has(fDraining) && !c.has(fClosed) {
					m.emit(c, EvRead, nil)
				}
			} else if !c.has(fDraining) {
				m.acceptReady(c)
			}
		case c.has(fConnecting):
			m.finishConnect(c)
		}
		if c.has(fClosed) || m.aborted {
			return
		}
		if !c.has(fClosing) && c.established() {
			m.ioStep(c)
			if c.has(fClosed) || m.aborted {
				return
			}
		}
	}
	if !c.has(fClosing) {
		m.checkTimeouts(c)
		if c.has(fClosed) {
			return
		}
	}
	m.endTurn(c)
}

// endTurn applies the drain and half-close rules, closes a closing conn, and
// records what the next Wait must know.
func (m *Manager) endTurn(c *Conn) {
	c.clear(fSeenR)
	if !c.has(fClosing) {
		empty := c.send.len() == 0 && c.fileXfer() == nil && c.tlsFlushed() // a static transfer still runs
		if c.has(fDraining) && empty {
			c.set(fClosing)
		} else if c.has(fPeerEOF) && empty && c.httpIdle() {
			c.set(fClosing)
		}
	}
	if c.has(fClosing) {
		m.closeConn(c)
		return
	}
	m.doneTurn(c)
}

// doneTurn records that c's turn of this pass is over and what the next
// Wait must know about it.
func (m *Manager) doneTurn(c *Conn) {
	c.doneGen = m.gen
	if c.pending() {
		m.hint = true
	}
	if d := m.connDeadline(c); !d.IsZero() && (m.nextDeadline.IsZero() || d.Before(m.nextDeadline)) {
		m.nextDeadline = d
	}
}
