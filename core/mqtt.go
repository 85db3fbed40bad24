package core

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/pymongoose-go/pymongoose-go/core/codec"
)

// The MQTT 3.1.1 engine (docs/api.md §9): client connections made by
// MQTTConnect and connections accepted by an MQTTListen listener. It
// parses every complete packet in the receive buffer, answers the QoS
// acknowledgement flows, delivers EvMQTTOpen/EvMQTTMsg/EvMQTTCmd and
// removes the packet after its EvMQTTCmd (so a handler can still read the
// raw packet with RecvData during the events, as a broker must for
// CONNECT and SUBSCRIBE). It is not a broker: CONNECT and PINGREQ are
// never answered.

// ErrNotMQTT is returned by the MQTT methods of a connection that cannot
// carry MQTT output (closed).
var ErrNotMQTT = errors.New("not an MQTT connection")

type mqttConn struct {
	msg  MQTTMessage
	need int // size of the packet being received, once its header is known

	// client keep-alive (docs/api.md §9.1, this project): a PINGREQ goes out
	// after keepalive without any packet queued by the engine, and the
	// connection fails when its PINGRESP is not back within keepalive.
	keepalive   time.Duration
	lastSent    time.Time
	timer       *Timer
	pingPending bool
	pingSent    time.Time
}

// IsMQTT reports whether the connection runs the MQTT engine.
func (c *Conn) IsMQTT() bool {
	_, ok := c.protocol().(*mqttConn)
	return ok
}

func (c *Conn) mqtt() *mqttConn {
	mc, _ := c.protocol().(*mqttConn)
	return mc
}

// recvNeed (io.go's recvLimit hook): the packet being received is bounded
// by MaxMessageSize (checked in onRead); MaxRecvSize bounds only what is
// queued behind it (docs/api.md §13).
func (mc *mqttConn) recvNeed() int {
	if mc.need > 0 {
		return mc.need
	}
	return 5 // a fixed header whose length is not known yet
}

func (mc *mqttConn) onRead(m *Manager, c *Conn) {
	maxMsg := m.lim.MaxMessageSize
	for !c.has(fClosed) && !c.has(fClosing) && !c.has(fDraining) && !m.aborted {
		buf := c.recv.data()
		if len(buf) == 0 {
			mc.need = 0
			return
		}
		msg := &mc.msg
		rc, size, need := codec.ParseMQTT(buf, msg)
		if rc == codec.MQTTParseOK && msg.Cmd == codec.MQTTPublish && msg.QoS == 3 {
			rc = codec.MQTTParseMalformed // MQTT 3.1.1 §3.3.1.2: both QoS bits set closes
		}
		if rc == codec.MQTTParseMalformed {
			c.recv.reset()
			c.set(fClosing) // no error event (docs/api.md §9.2)
			m.kick(c)
			return
		}
		if rc == codec.MQTTParseIncomplete {
			mc.need = need
			if maxMsg > 0 && need > maxMsg {
				c.recv.reset()
				c.Error("MG_MAX_RECV_SIZE")
			}
			return
		}
		mc.need = 0
		if maxMsg > 0 && size > maxMsg {
			c.recv.reset()
			c.Error("MG_MAX_RECV_SIZE")
			return
		}
		switch msg.Cmd {
		case codec.MQTTConnack:
			m.emit(c, EvMQTTOpen, int(msg.Ack))
			if msg.Ack != 0 && !c.has(fClosed) {
				c.set(fClosing)
				m.kick(c)
			}
		case codec.MQTTPublish:
			if msg.QoS > 0 {
				ack := byte(codec.MQTTPuback)
				if msg.QoS == 2 {
					ack = codec.MQTTPubrec
				}
				mc.queue(c, codec.AppendMQTTAck(nil, ack, msg.ID))
			}
			m.emit(c, EvMQTTMsg, msg)
		case codec.MQTTPubrec:
			mc.queue(c, codec.AppendMQTTAck(nil, codec.MQTTPubrel, msg.ID))
		case codec.MQTTPubrel:
			mc.queue(c, codec.AppendMQTTAck(nil, codec.MQTTPubcomp, msg.ID))
		case codec.MQTTPingresp:
			mc.pingPending = false
		}
		if c.has(fClosed) {
			return
		}
		if !m.aborted {
			m.emit(c, EvMQTTCmd, msg)
			if c.has(fClosed) {
				return
			}
		}
		if c.has(fDraining) {
			return // Drain has emptied the buffer
		}
		// The handler may not have consumed anything: the packet is still
		// at the front unless the buffer was reset.
		if c.recv.len() >= size {
			c.recv.consume(size)
		} else {
			c.recv.reset()
		}
		*msg = MQTTMessage{}
	}
}

// queue appends an engine-made packet to the send buffer.
func (mc *mqttConn) queue(c *Conn, pkt []byte) {
	if c.has(fClosed) || c.has(fInClose) {
		return
	}
	c.send.write(pkt)
	c.afterQueue()
	mc.lastSent = c.m.clock()
}

// MQTTConnect starts an MQTT client connection (docs/api.md §9.1): Connect plus
// the CONNECT packet queued before it returns. An empty ClientID gets 19
// random characters. With Keepalive > 0 a PINGREQ is sent after Keepalive
// seconds without a packet sent, and the connection fails (EvError, then
// close) when no PINGRESP arrives within Keepalive seconds after a
// PINGREQ. Options that break MQTT's rules return a codec.ErrMQTTInvalid error.
func (m *Manager) MQTTConnect(url string, o codec.MQTTConnectOptions, init func(c *Conn)) (*Conn, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	mc := &mqttConn{keepalive: time.Duration(o.Keepalive) * time.Second}
	c, err := m.Connect(url, ConnectOptions{Init: func(c *Conn) {
		c.setProtocol(mc)
		if init != nil {
			init(c)
		}
	}})
	if err != nil || c.has(fClosed) {
		return c, err
	}
	if len(o.ClientID) == 0 {
		o.ClientID = randomClientID()
	}
	mc.queue(c, codec.AppendMQTTConnect(nil, &o))
	if mc.keepalive > 0 {
		mc.armKeepalive(c, mc.keepalive)
	}
	return c, nil
}

// armKeepalive schedules the next keep-alive check in d.
func (mc *mqttConn) armKeepalive(c *Conn, d time.Duration) {
	ms := int((d + time.Millisecond - 1) / time.Millisecond)
	if ms < 1 {
		ms = 1
	}
	mc.timer = c.m.TimerAdd(ms, false, false, func() Result {
		mc.timer = nil
		if c.has(fClosed) || c.has(fInClose) || c.has(fClosing) {
			return ResultOK
		}
		now := c.m.clock()
		if mc.pingPending && now.Sub(mc.pingSent) >= mc.keepalive-time.Millisecond {
			c.Error(fmt.Sprintf("MQTT: no PINGRESP within the %v keep-alive", mc.keepalive))
			return ResultOK
		}
		next := mc.keepalive - now.Sub(mc.lastSent)
		if next <= time.Millisecond {
			if c.established() && !c.has(fDraining) {
				mc.sendPing(c)
			}
			next = mc.keepalive
		}
		if mc.pingPending {
			next = min(next, mc.keepalive-now.Sub(mc.pingSent))
		}
		mc.armKeepalive(c, next)
		return ResultOK
	})
}

// sendPing queues a PINGREQ and, on a client with a keep-alive, starts
// waiting for its PINGRESP (an earlier unanswered PINGREQ keeps its time).
func (mc *mqttConn) sendPing(c *Conn) {
	mc.queue(c, []byte{codec.MQTTPingreq << 4, 0})
	if mc.keepalive > 0 && !mc.pingPending {
		mc.pingPending, mc.pingSent = true, c.m.clock()
	}
}

const clientIDChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func randomClientID() []byte {
	var r [19]byte
	rand.Read(r[:])
	for i := range r {
		r[i] = clientIDChars[int(r[i])%len(clientIDChars)]
	}
	return r[:]
}

// MQTTListen creates a listener whose accepted connections run the MQTT
// engine (docs/api.md §9.3).
func (m *Manager) MQTTListen(url string, init func(c *Conn)) (*Conn, error) {
	return m.Listen(url, ListenOptions{Init: func(c *Conn) {
		if !c.has(fUDP) {
			c.setChildProtocol(func(*Conn) protocol { return &mqttConn{} })
		}
		if init != nil {
			init(c)
		}
	}})
}

// nextMQTTID is the Manager-wide packet id counter: first 1, skips 0.
func (m *Manager) nextMQTTID() uint16 {
	m.mqttID++
	if m.mqttID == 0 {
		m.mqttID++
	}
	return m.mqttID
}

// sendMQTT queues a packet built by the caller (any connection).
func (c *Conn) sendMQTT(pkt []byte) error {
	if c.has(fClosed) || c.m == nil || c.has(fInClose) {
		return ErrConnClosed
	}
	if mc := c.mqtt(); mc != nil {
		mc.queue(c, pkt)
		return nil
	}
	c.send.write(pkt)
	c.afterQueue()
	return nil
}

// MQTTPub queues a PUBLISH and returns its packet id (0 for QoS 0). A
// topic or QoS that breaks MQTT's rules returns a codec.ErrMQTTInvalid error.
func (c *Conn) MQTTPub(topic, payload []byte, qos byte, retain bool) (uint16, error) {
	if err := codec.CheckMQTTPublish(topic, qos); err != nil {
		return 0, err
	}
	if c.has(fClosed) || c.m == nil || c.has(fInClose) {
		return 0, ErrConnClosed
	}
	var id uint16
	if qos > 0 {
		id = c.m.nextMQTTID()
	}
	return id, c.sendMQTT(codec.AppendMQTTPublish(nil, topic, payload, qos, retain, id))
}

// MQTTSub queues a SUBSCRIBE for one topic filter; returns its packet id.
func (c *Conn) MQTTSub(topic []byte, qos byte) (uint16, error) {
	if err := codec.CheckMQTTSubscribe(topic, qos); err != nil {
		return 0, err
	}
	if c.has(fClosed) || c.m == nil || c.has(fInClose) {
		return 0, ErrConnClosed
	}
	id := c.m.nextMQTTID()
	return id, c.sendMQTT(codec.AppendMQTTSubscribe(nil, topic, qos, id))
}

// MQTTUnsub queues an UNSUBSCRIBE for one topic filter; returns its id.
func (c *Conn) MQTTUnsub(topic []byte) (uint16, error) {
	if err := codec.CheckMQTTFilter(topic); err != nil {
		return 0, err
	}
	if c.has(fClosed) || c.m == nil || c.has(fInClose) {
		return 0, ErrConnClosed
	}
	id := c.m.nextMQTTID()
	return id, c.sendMQTT(codec.AppendMQTTUnsubscribe(nil, topic, id))
}

// MQTTPing queues PINGREQ (C0 00); on a client with a keep-alive its
// PINGRESP is then awaited as for an automatic one.
func (c *Conn) MQTTPing() error {
	if mc := c.mqtt(); mc != nil && !c.has(fClosed) && c.m != nil && !c.has(fInClose) {
		mc.sendPing(c)
		return nil
	}
	return c.sendMQTT([]byte{codec.MQTTPingreq << 4, 0})
}

// MQTTPong queues PINGRESP (D0 00).
func (c *Conn) MQTTPong() error { return c.sendMQTT([]byte{0xd0, 0}) }

// MQTTDisconnect queues DISCONNECT (E0 00); it neither closes nor drains.
func (c *Conn) MQTTDisconnect() error { return c.sendMQTT([]byte{0xe0, 0}) }
