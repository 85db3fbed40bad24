package core

import "sync"

// A connection per request would otherwise allocate ~34 KiB per request
// (two 16 KiB buffers and the HTTP state), which keeps the garbage
// collector busy on the CPU the peer needs. What a closed connection owned
// goes back to these pools, but only once no handler runs: the handler that
// closed it may still hold message views into its buffers and its
// HTTPMessage (docs/api.md: views are valid until the handler returns).

// bufPool recycles ioMem values; only buffers of exactly ioSize keep their
// memory (larger ones are one-offs, such as a big reply).
var bufPool = sync.Pool{New: func() any { return new(ioMem) }}

// httpPool recycles httpConn values (newHTTPConn zeroes them).
var httpPool = sync.Pool{New: func() any { return new(httpConn) }}

// release takes the memory of a freed connection's queue.
func (m *Manager) release(q *iobuf) {
	p := q.detach()
	if p == nil {
		return
	}
	if cap(p.b) != ioSize {
		p.b = nil
	}
	p.b, p.off = p.b[:0], 0
	if m.depth == 0 {
		bufPool.Put(p)
		return
	}
	m.spare = append(m.spare, p)
}

// releaseHTTP takes the HTTP state of a freed connection.
func (m *Manager) releaseHTTP(h *httpConn) {
	if m.depth == 0 {
		httpPool.Put(h)
		return
	}
	m.spareHTTP = append(m.spareHTTP, h)
}

// recycle hands what was released during handlers to the pools; called
// when no handler runs.
func (m *Manager) recycle() {
	for i, p := range m.spare {
		bufPool.Put(p)
		m.spare[i] = nil
	}
	m.spare = m.spare[:0]
	for i, h := range m.spareHTTP {
		httpPool.Put(h)
		m.spareHTTP[i] = nil
	}
	m.spareHTTP = m.spareHTTP[:0]
}
