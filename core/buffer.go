package core

// iobuf is a byte queue: data is b[off:]. Consuming from the front only
// moves off, so pipelined requests and large writes never cost a memmove of
// the remainder; the space is reclaimed when the queue empties or when room
// is needed at the back.
type iobuf struct {
	b   []byte
	off int
}

func (q *iobuf) data() []byte { return q.b[q.off:] }
func (q *iobuf) len() int     { return len(q.b) - q.off }

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
	q.b = q.b[:0]
	q.off = 0
}

// free drops the memory.
func (q *iobuf) free() {
	q.b = nil
	q.off = 0
}

// compact moves the data to the front when that frees at least half of the
// buffer (or the data is empty).
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
