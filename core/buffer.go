package core

// iobuf is a byte queue: data is b[off:]. Consuming from the front only
// moves off, so pipelined requests and large writes never cost a memmove of
// the remainder; the space is reclaimed when the queue empties or when room
// is needed at the back. The memory lives behind a pointer that stays nil
// until the first write, so an idle connection's two queues cost 16 bytes,
// and it comes from (and goes back to) bufPool (recycle.go), so a connection per request
// allocates no buffers in the steady state.
type iobuf struct{ *ioMem }

type ioMem struct {
	b   []byte
	off int
}

func (q *iobuf) data() []byte {
	if q.ioMem == nil {
		return nil
	}
	return q.b[q.off:]
}

func (q *iobuf) len() int {
	if q.ioMem == nil {
		return 0
	}
	return len(q.b) - q.off
}

func (q *iobuf) consume(n int) {
	q.off += n
	if q.off >= len(q.b) {
		q.b = q.b[:0]
		q.off = 0
	}
}

// reset empties the queue but keeps the memory, so that message views handed
// to a running handler stay readable until it returns.
func (q *iobuf) reset() {
	if q.ioMem != nil {
		q.b = q.b[:0]
		q.off = 0
	}
}

// detach empties q and returns its memory for Manager.release.
func (q *iobuf) detach() *ioMem {
	p := q.ioMem
	q.ioMem = nil
	return p
}

// compact moves the data to the front.
func (q *iobuf) compact() {
	if q.off == 0 {
		return
	}
	n := copy(q.b, q.b[q.off:])
	q.b = q.b[:n]
	q.off = 0
}

// reserve makes room for at least n more bytes and returns the whole free
// tail, which may be larger.
func (q *iobuf) reserve(n int) []byte {
	if q.ioMem == nil {
		q.ioMem = bufPool.Get().(*ioMem)
	}
	if cap(q.b)-len(q.b) < n && q.off > 0 && q.off >= len(q.b)/2 {
		q.compact()
	}
	if cap(q.b)-len(q.b) < n {
		want := len(q.b) + n
		if c := 2 * cap(q.b); c > want {
			want = c
		}
		nb := make([]byte, len(q.b)-q.off, roundIO(want))
		copy(nb, q.b[q.off:])
		q.b = nb
		q.off = 0
	}
	return q.b[len(q.b):cap(q.b)]
}

// commit appends n bytes previously written into the tail from reserve.
func (q *iobuf) commit(n int) { q.b = q.b[:len(q.b)+n] }

func (q *iobuf) write(p []byte) {
	q.reserve(len(p))
	q.b = append(q.b, p...)
}

func (q *iobuf) writeString(s string) {
	q.reserve(len(s))
	q.b = append(q.b, s...)
}
