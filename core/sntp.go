package core

import (
	"encoding/binary"
	"time"
)

// SNTP client engine (docs/api.md §10.3): a request goes out automatically when
// the connection is established (before EvConnect reaches the user), the
// first datagram received is parsed and, when it is a valid server reply,
// delivered as EvSNTPTime (int64 milliseconds since the Unix epoch,
// corrected by half the round-trip delay) before EvRead; after any datagram,
// or sntpLifetime after creation, the connection is marked closing.

// sntpLifetime bounds an SNTP connection's life, as Mongoose's 3 s.
const sntpLifetime = 3000 // ms

// ntpEpochOffset is 1970-01-01 minus 1900-01-01 in seconds.
const ntpEpochOffset = 2208988800

// sntpPacketLen is the size of an SNTP packet without extensions.
const sntpPacketLen = 48

type sntpProto struct {
	sent int64 // wall clock (epoch ms) of the last request, 0 if none
}

// connectHook is implemented by engines that act when their connection is
// established, before the user sees EvConnect (docs/api.md §2.5).
type connectHook interface {
	onConnect(m *Manager, c *Conn)
}

// protoConnect runs the engine's connect hook, if any.
func (m *Manager) protoConnect(c *Conn) {
	if h, ok := c.protocol().(connectHook); ok {
		h.onConnect(m, c)
	}
}

func (p *sntpProto) onConnect(m *Manager, c *Conn) { c.SNTPRequest() }

// recvNeed: SNTP runs on UDP, whose reads have no such limit.
func (p *sntpProto) recvNeed() int { return 0 }

func (p *sntpProto) onRead(m *Manager, c *Conn) {
	ms, ok := SNTPParse(c.recv.data(), time.Now().UnixMilli(), p.sent)
	c.recv.reset() // the engine consumes what it reads (docs/api.md §5.6)
	if ok {
		m.emit(c, EvSNTPTime, ms)
	}
	if !c.has(fClosed) && !c.has(fInClose) {
		c.set(fClosing) // after any datagram
		m.kick(c)
	}
}

// SNTPConnect is Manager.sntp_connect(url): Connect with the SNTP engine.
// Normally url is udp://host:123.
func (m *Manager) SNTPConnect(url string, o ConnectOptions) (*Conn, error) {
	init := o.Init
	o.HTTP = false
	o.Init = func(c *Conn) {
		c.setProtocol(&sntpProto{})
		m.TimerAdd(sntpLifetime, false, false, func() Result {
			if !c.has(fClosed) && !c.has(fInClose) && !c.has(fClosing) {
				c.set(fClosing)
				m.kick(c)
			}
			return ResultOK
		})
		if init != nil {
			init(c)
		}
	}
	return m.Connect(url, o)
}

// SNTPRequest is Connection.sntp_request(): it sends a 48-byte SNTP client
// request (version 4, mode 3, transmit timestamp = the local clock). While
// the connection is resolving nothing is sent; a failed send is ignored,
// as in the reference. It returns ErrConnClosed on a closed connection.
func (c *Conn) SNTPRequest() error {
	if c.has(fClosed) || c.m == nil {
		return ErrConnClosed
	}
	if c.has(fResolving) {
		return nil
	}
	now := time.Now().UnixMilli()
	if p, ok := c.protocol().(*sntpProto); ok {
		p.sent = now
	}
	c.Send(SNTPRequestPacket(now))
	return nil
}

// SNTPRequestPacket builds a client request whose transmit timestamp is
// nowMs (epoch milliseconds).
func SNTPRequestPacket(nowMs int64) []byte {
	b := make([]byte, sntpPacketLen)
	b[0] = 4<<3 | 3 // LI 0, version 4, mode 3 (client)
	putNTPTime(b[40:48], nowMs)
	return b
}

// SNTPParse validates a server reply (at least 48 bytes, mode 4 or 5,
// non-zero stratum, version 3 or 4) and returns the server's transmit time
// in epoch milliseconds plus half the round-trip delay. nowMs is the local
// clock at reception; sentMs the local clock when the request left (used
// when the server does not echo it as the origin timestamp; 0 if unknown).
// ok is false for an invalid packet or a non-positive result.
func SNTPParse(b []byte, nowMs, sentMs int64) (ms int64, ok bool) {
	if len(b) < sntpPacketLen {
		return 0, false
	}
	mode, version := b[0]&7, (b[0]>>3)&7
	if mode != 4 && mode != 5 || b[1] == 0 || version != 3 && version != 4 {
		return 0, false
	}
	tx, txOK := ntpTime(b[40:48])
	if !txOK {
		return 0, false
	}
	origin, originOK := ntpTime(b[24:32])
	if !originOK {
		origin, originOK = sentMs, sentMs > 0
	}
	ms = tx
	if originOK {
		rx, rxOK := ntpTime(b[32:40])
		if !rxOK {
			rx = tx
		}
		delay := (nowMs - origin) - (tx - rx)
		if delay > 0 && delay < 60000 { // a sane round trip
			ms += delay / 2
		}
	}
	return ms, ms > 0
}

// ntpTime converts a 64-bit NTP timestamp to epoch milliseconds; ok is
// false for the zero timestamp ("not set"). Era 1 (from 2036) is handled
// the RFC 4330 way: a clear top bit means the second era.
func ntpTime(b []byte) (int64, bool) {
	sec := binary.BigEndian.Uint32(b[0:4])
	frac := binary.BigEndian.Uint32(b[4:8])
	if sec == 0 && frac == 0 {
		return 0, false
	}
	s := int64(sec)
	if sec&0x80000000 == 0 {
		s += 1 << 32
	}
	s -= ntpEpochOffset
	return s*1000 + int64(frac)*1000>>32, true
}

func putNTPTime(b []byte, ms int64) {
	sec := ms/1000 + ntpEpochOffset
	frac := (ms % 1000) << 32 / 1000
	binary.BigEndian.PutUint32(b[0:4], uint32(sec))
	binary.BigEndian.PutUint32(b[4:8], uint32(frac))
}
