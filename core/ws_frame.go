package core

import "math/rand/v2"

// WebSocket opcodes (RFC 6455 §5.2).
const (
	WSOpContinue = 0
	WSOpText     = 1
	WSOpBinary   = 2
	WSOpClose    = 8
	WSOpPing     = 9
	WSOpPong     = 10
)

// wsMaxNeed caps the announced size of a frame being received, so that an
// absurd 64-bit length cannot overflow the receive-limit arithmetic.
const wsMaxNeed = 1 << 50

// wsHeader is a parsed frame header.
type wsHeader struct {
	b0     byte // FIN, RSV1-3 and the opcode, as received
	masked bool
	mask   [4]byte
	hlen   int    // header length (2..14)
	plen   uint64 // payload length
}

func (h *wsHeader) fin() bool { return h.b0&0x80 != 0 }
func (h *wsHeader) op() byte  { return h.b0 & 0x0f }

// parseWSHeader parses the frame header at the start of buf. It returns
// complete=false (and no error) when more bytes are needed, and a non-empty
// error text for a frame that breaks RFC 6455 framing (docs/api.md §8.2): unknown
// opcode ("unknown WS op <n>"), reserved bits, a control frame that is
// fragmented or longer than 125 bytes, or a 64-bit length with the top bit set.
func parseWSHeader(buf []byte) (h wsHeader, complete bool, err string) {
	if len(buf) < 2 {
		return h, false, ""
	}
	h.b0 = buf[0]
	op := h.op()
	switch op {
	case WSOpContinue, WSOpText, WSOpBinary, WSOpClose, WSOpPing, WSOpPong:
	default:
		return h, false, "unknown WS op " + itoa(int(op))
	}
	if h.b0&0x70 != 0 {
		return h, false, "WS reserved bits set"
	}
	b1 := buf[1]
	h.masked = b1&0x80 != 0
	l7 := b1 & 0x7f
	control := op >= WSOpClose
	if control && !h.fin() {
		return h, false, "fragmented WS control frame"
	}
	if control && l7 > 125 {
		return h, false, "WS control frame too long"
	}
	n := 2
	switch l7 {
	case 126:
		if len(buf) < 4 {
			return h, false, ""
		}
		h.plen = uint64(buf[2])<<8 | uint64(buf[3])
		n = 4
	case 127:
		if len(buf) < 10 {
			return h, false, ""
		}
		if buf[2]&0x80 != 0 {
			return h, false, "bad WS frame length"
		}
		for i := 2; i < 10; i++ {
			h.plen = h.plen<<8 | uint64(buf[i])
		}
		n = 10
	default:
		h.plen = uint64(l7)
	}
	if h.masked {
		if len(buf) < n+4 {
			return h, false, ""
		}
		copy(h.mask[:], buf[n:n+4])
		n += 4
	}
	h.hlen = n
	return h, true, ""
}

// wsMask XORs p with the 4-byte key in place (masking and unmasking are the
// same operation). pos is the offset of p within the payload.
func wsMask(p []byte, key [4]byte, pos int) {
	k := uint64(key[0]) | uint64(key[1])<<8 | uint64(key[2])<<16 | uint64(key[3])<<24
	k |= k << 32
	// Rotate the key so that it lines up with byte 0 of p.
	if r := pos & 3; r != 0 {
		k = k>>(8*r) | k<<(64-8*r)
	}
	i := 0
	for ; i+8 <= len(p); i += 8 {
		v := uint64(p[i]) | uint64(p[i+1])<<8 | uint64(p[i+2])<<16 | uint64(p[i+3])<<24 |
			uint64(p[i+4])<<32 | uint64(p[i+5])<<40 | uint64(p[i+6])<<48 | uint64(p[i+7])<<56
		v ^= k
		p[i], p[i+1], p[i+2], p[i+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		p[i+4], p[i+5], p[i+6], p[i+7] = byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56)
	}
	for ; i < len(p); i++ {
		p[i] ^= byte(k >> (8 * ((i) & 7)))
	}
}

// appendWSFrame appends one frame to q whose first byte is op|0x80 (FIN
// set; no validation of op, as Mongoose); masked frames get a random key.
func appendWSFrame(q *iobuf, data []byte, op int, masked bool) {
	n := len(data)
	q.reserve(14 + n)
	b := q.b
	b = append(b, 0x80|byte(op))
	mbit := byte(0)
	if masked {
		mbit = 0x80
	}
	switch {
	case n < 126:
		b = append(b, mbit|byte(n))
	case n < 65536:
		b = append(b, mbit|126, byte(n>>8), byte(n))
	default:
		b = append(b, mbit|127)
		for s := 56; s >= 0; s -= 8 {
			b = append(b, byte(uint64(n)>>s))
		}
	}
	if !masked {
		q.b = append(b, data...)
		return
	}
	var key [4]byte
	r := rand.Uint32()
	key[0], key[1], key[2], key[3] = byte(r), byte(r>>8), byte(r>>16), byte(r>>24)
	b = append(b, key[:]...)
	start := len(b)
	b = append(b, data...)
	wsMask(b[start:], key, 0)
	q.b = b
}

// WSSend queues one complete frame with FIN set and opcode op (docs/api.md §5.9):
// unmasked from servers and accepted connections, masked with a random key
// from client connections. Usable on any connection.
func (c *Conn) WSSend(data []byte, op int) error {
	if c.has(fClosed) || c.m == nil {
		return ErrConnClosed
	}
	appendWSFrame(&c.send, data, op, c.has(fClient))
	c.afterQueue()
	return nil
}
