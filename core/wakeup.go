package core

// wakeMsg is one Manager.Wakeup call waiting for the loop.
type wakeMsg struct {
	id   uint64
	data []byte
}

// post runs f under the queue lock and interrupts Wait. One eventfd write
// per batch: later posts see signalled and skip the syscall.
func (m *Manager) post(f func()) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.qclosed {
		return false
	}
	f()
	if !m.signalled {
		m.signalled = true
		m.p.signal()
	}
	return true
}

// Wakeup queues EvWakeup with a copy of data for connection connID; it is
// delivered in a later Process, FIFO, payload of any size. Safe from any
// goroutine. It returns false when wakeup is disabled, connID is 0, or the
// manager is closed; true otherwise, even if no such connection exists.
func (m *Manager) Wakeup(connID uint64, data []byte) bool {
	if !m.wakeOn || connID == 0 {
		return false
	}
	msg := wakeMsg{id: connID, data: append([]byte(nil), data...)}
	if msg.data == nil {
		msg.data = []byte{}
	}
	return m.post(func() { m.wakeQ = append(m.wakeQ, msg) })
}

// queued reports cross-thread work waiting for Process.
func (m *Manager) queued() bool {
	m.mu.Lock()
	n := len(m.wakeQ) + len(m.dnsQ)
	m.mu.Unlock()
	return n > 0
}

// runQueues applies DNS answers and delivers wakeups (the internal wakeup
// channel's turn). Wakeups to id 1 or unknown ids are dropped.
func (m *Manager) runQueues() {
	m.mu.Lock()
	m.signalled = false
	wq, dq := m.wakeQ, m.dnsQ
	m.wakeQ, m.dnsQ = nil, nil
	m.mu.Unlock()
	for _, a := range dq {
		m.applyDNS(a)
	}
	m.runTLS() // tls.go
	for i, w := range wq {
		if m.aborted {
			// Keep the rest, in order, for the next Process.
			rest := wq[i:]
			m.mu.Lock()
			m.wakeQ = append(rest, m.wakeQ...)
			m.mu.Unlock()
			return
		}
		if c := m.byID.get(w.id); c != nil && !c.has(fClosed) && !c.has(fInClose) {
			m.emit(c, EvWakeup, w.data)
		}
	}
}
