package core

import (
	"cmp"
	"errors"
	"slices"
	"sync"
	"time"
)

// Manager owns connections and timers and runs the event loop. All methods
// except Wakeup must be called from one thread at a time (the loop thread).
type Manager struct {
	d      Dispatcher
	lim    Limits
	wakeOn bool
	p      *poller

	head   *Conn   // connection list, newest first
	byID   idTable // live conns by id (idtable.go)
	fds    []*Conn // fd -> conn, for readiness bookkeeping
	nextID uint64
	timers []*Timer
	mqttID uint16 // Manager-wide MQTT packet id counter (mqtt.go)

	pass          []*Conn // snapshot of the list for one pass (reused)
	gen           uint32  // pass counter (wraps: a stale match only costs a non-blocking wait)
	inPass        bool
	inProcess     bool
	closeDeferred bool
	closingAll    bool
	closed        bool
	aborted       bool

	batcher    PollBatcher // optional EvPoll delivery per run (poll_batch.go)
	batching   bool        // a batcher call is running
	batchStop  uint32      // set during it: stop after the running handler
	batchKicks []*Conn     // kick() calls during it, replayed afterwards

	hint         bool        // work is pending: the next Wait must not block
	now          time.Time   // clock of the running Process
	nextDeadline time.Time   // earliest connection deadline seen by the last pass
	scratch      []byte      // sink for bytes a draining conn discards
	spare        []*ioMem    // freed conns' buffers, recycled when no handler runs (recycle.go)
	spareHTTP    []*httpConn // freed conns' HTTP state, likewise
	depth        int         // handlers running (nested emits, a batcher call)

	bodyStream bodyStreamConfig // request body streaming for adapters (http_body_stream.go)
	allHeaders bool             // requests keep every header, not the first 30 (StoreAllHeaders)

	// Cross-thread queues (wakeups, DNS answers), guarded by mu.
	mu        sync.Mutex
	signalled bool
	qclosed   bool
	wakeQ     []wakeMsg
	dnsQ      []dnsAnswer
	tlsQ      []*tlsState // TLS handshake progress (tls.go)
}

// Errors returned by Listen and Connect (the binding words its own messages).
var (
	ErrManagerClosed = errors.New("manager has been freed")
	ErrEmptyURL      = errors.New("empty URL")
)

// NewManager creates a manager. d may be nil (events are dropped).
func NewManager(d Dispatcher, opts Options) (*Manager, error) {
	p, err := newPoller()
	if err != nil {
		return nil, err
	}
	m := &Manager{
		d:      d,
		lim:    opts.Limits,
		wakeOn: opts.EnableWakeup,
		p:      p,
		nextID: 1,
	}
	if m.wakeOn {
		m.nextID = 2 // the wakeup channel is connection 1 and internal
	}
	return m, nil
}

// Limits returns the limits the manager enforces.
func (m *Manager) Limits() Limits { return m.lim }

// Closed reports whether Close has completed (or is completing).
func (m *Manager) Closed() bool { return m.closed || m.closingAll }

// InProcess reports whether Process is running (so Close would be deferred).
func (m *Manager) InProcess() bool { return m.inProcess }

// WakeupID is 1 when wakeup is enabled (an internal channel), else 0.
func (m *Manager) WakeupID() uint64 {
	if m.wakeOn {
		return 1
	}
	return 0
}

// Conns returns the live connections, newest first.
func (m *Manager) Conns() []*Conn {
	var out []*Conn
	for c := m.head; c != nil; c = c.next {
		out = append(out, c)
	}
	return out
}

// ConnsByID returns the connections ConnByID finds, in id order.
func (m *Manager) ConnsByID() []*Conn {
	out := make([]*Conn, 0, m.byID.n)
	for _, c := range m.byID.slots {
		if c != nil {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *Conn) int { return cmp.Compare(a.id, b.id) })
	return out
}

// ConnByID returns the connection with that id, or nil once its EvClose has
// been delivered (during EvClose it is still found).
func (m *Manager) ConnByID(id uint64) *Conn { return m.byID.get(id) }

// kick records that c has work the loop must do without waiting. A conn the
// running pass has not visited yet will do it in its turn anyway.
func (m *Manager) kick(c *Conn) {
	if m.batching {
		// The rest of the running conn's turn must come before the next
		// POLL; whether c has had its turn is known once the batch returns.
		m.batchStop = 1
		m.batchKicks = append(m.batchKicks, c)
		return
	}
	if !m.inPass || c == nil || c.doneGen == m.gen {
		m.hint = true
	}
}

// clock is the loop's notion of now.
func (m *Manager) clock() time.Time {
	if m.inProcess {
		return m.now
	}
	return time.Now()
}

func (m *Manager) emit(c *Conn, ev Event, data any) Result {
	if m.d == nil {
		return ResultOK
	}
	m.depth++
	r := m.d(c, ev, data)
	m.handlersDone()
	if r == ResultAbort {
		m.aborted = true
		m.batchStop = 1
	}
	return r
}

// handlersDone ends a handler call (an emit or a batcher call); the
// outermost one hands what closed conns released to the pools.
func (m *Manager) handlersDone() {
	m.depth--
	if m.depth == 0 && len(m.spare)+len(m.spareHTTP) > 0 {
		m.recycle()
	}
}

// newConn creates a connection object and links it at the head of the list.
func (m *Manager) newConn(fd int) *Conn {
	c := &Conn{m: m, id: m.nextID, fd: -1}
	m.nextID++
	if m.inPass {
		c.doneGen = m.gen // not visited by the running pass
	}
	c.next = m.head
	if m.head != nil {
		m.head.prev = c
	}
	m.head = c
	m.byID.put(c)
	if cap(m.pass) < m.byID.n {
		m.pass = grow(m.pass, m.byID.n) // same contents: safe during a pass
	}
	if fd >= 0 {
		m.setFd(c, fd)
	}
	return c
}

// grow returns s with room for at least n elements, doubling: append grows
// large slices by 1.25x, which while thousands of connections arrive leaves
// about four times the final table as garbage (resident memory per
// connection); the unused tail of a fresh doubled table is never touched.
func grow(s []*Conn, n int) []*Conn {
	if n <= cap(s) {
		return s
	}
	ns := make([]*Conn, len(s), max(2*cap(s), n, 64))
	copy(ns, s)
	return ns
}

func (m *Manager) setFd(c *Conn, fd int) {
	c.fd = fd
	if fd >= len(m.fds) {
		m.fds = grow(m.fds, fd+1)
		m.fds = m.fds[:cap(m.fds)]
	}
	m.fds[fd] = c
}

// unlink removes c from the list and closes its socket.
func (m *Manager) unlink(c *Conn) {
	if c.prev != nil {
		c.prev.next = c.next
	} else if m.head == c {
		m.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	}
	c.prev, c.next = nil, nil
	m.closeSocket(c)
}

// closeSocket closes c's socket, if any, which also leaves the epoll set.
func (m *Manager) closeSocket(c *Conn) {
	if c.fd < 0 {
		return
	}
	if c.fd < len(m.fds) && m.fds[c.fd] == c {
		m.fds[c.fd] = nil
	}
	sysClose(c.fd)
	c.fd = -1
}

// Close closes the manager. From inside Process it is deferred to the end
// of that Process. Otherwise timers are discarded, every connection gets
// EvPoll then EvClose (nothing is flushed), and all sockets are closed.
// Idempotent.
func (m *Manager) Close() {
	if m.closed || m.closingAll {
		return
	}
	if m.inProcess {
		m.closeDeferred = true
		return
	}
	m.closingAll = true
	for _, t := range m.timers {
		t.finish()
	}
	m.timers = nil
	m.pass = m.pass[:0]
	for c := m.head; c != nil; c = c.next {
		c.set(fClosing)
		m.pass = append(m.pass, c)
	}
	for i, c := range m.pass {
		m.pass[i] = nil
		if c.has(fClosed) || c.has(fInClose) {
			continue
		}
		m.emit(c, EvPoll, nil)
		m.closeConn(c)
	}
	m.mu.Lock()
	m.qclosed = true
	m.wakeQ, m.dnsQ = nil, nil
	m.p.close()
	m.mu.Unlock()
	m.closed = true
}
