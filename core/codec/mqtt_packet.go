package codec

// MQTT 3.1.1 packet encoding and decoding (docs/api.md §9), byte for byte as
// Mongoose 7.19 writes and reads them.

// MQTT packet types (docs/api.md §3.3).
const (
	MQTTConnect     = 1
	MQTTConnack     = 2
	MQTTPublish     = 3
	MQTTPuback      = 4
	MQTTPubrec      = 5
	MQTTPubrel      = 6
	MQTTPubcomp     = 7
	MQTTSubscribe   = 8
	MQTTSuback      = 9
	MQTTUnsubscribe = 10
	MQTTUnsuback    = 11
	MQTTPingreq     = 12
	MQTTPingresp    = 13
	MQTTDisconnect  = 14
	MQTTAuth        = 15
)

// MQTTMessage is the data of EvMQTTCmd and EvMQTTMsg. Slices are valid only
// while the event is being dispatched (docs/api.md §9.4 for the fields).
type MQTTMessage struct {
	Topic, Data []byte
	ID          uint16
	Cmd, QoS    byte
	Ack         byte
	Props       []MQTTProp // MQTT 5 properties, in order
}

// MQTTProp is one MQTT 5 property (docs/api.md §19.4).
type MQTTProp struct {
	ID       byte
	IV       uint32
	Key, Val []byte
}

// Results of ParseMQTT.
const (
	MQTTParseOK         = 0
	MQTTParseIncomplete = 1
	MQTTParseMalformed  = 2
)

// mqttMaxRemaining is the largest remaining length four bytes can encode.
const mqttMaxRemaining = 268435455

// ParseMQTT decodes the packet at the front of buf into msg (slices point
// into buf). It returns the result code and, for MQTTParseOK, the packet size.
// For MQTTParseIncomplete, need is the full packet size once the fixed header is
// known (0 while the length field itself is incomplete). Field rules are
// Mongoose's mg_mqtt_parse for protocol level 4.
func ParseMQTT(buf []byte, msg *MQTTMessage) (rc, size, need int) {
	*msg = MQTTMessage{}
	if len(buf) < 2 {
		return MQTTParseIncomplete, 0, 0
	}
	msg.Cmd = buf[0] >> 4
	msg.QoS = (buf[0] >> 1) & 3
	n, lenLen := 0, 0
	var lc byte
	p := 1
	for p < len(buf) {
		lc = buf[p]
		p++
		n |= int(lc&0x7f) << (7 * lenLen)
		lenLen++
		if lc&0x80 == 0 {
			break
		}
		if lenLen >= 4 {
			return MQTTParseMalformed, 0, 0
		}
	}
	if lc&0x80 != 0 {
		return MQTTParseIncomplete, 0, 0
	}
	end := p + n
	if end > len(buf) {
		return MQTTParseIncomplete, 0, end
	}
	body := buf[p:end]
	switch msg.Cmd {
	case MQTTConnack:
		if len(body) < 2 {
			return MQTTParseMalformed, 0, 0
		}
		msg.Ack = body[1]
	case MQTTPuback, MQTTPubrec, MQTTPubrel, MQTTPubcomp,
		MQTTSubscribe, MQTTSuback, MQTTUnsubscribe, MQTTUnsuback:
		if len(body) < 2 {
			return MQTTParseMalformed, 0, 0
		}
		msg.ID = uint16(body[0])<<8 | uint16(body[1])
	case MQTTPublish:
		if len(body) < 2 {
			return MQTTParseMalformed, 0, 0
		}
		tl := int(body[0])<<8 | int(body[1])
		q := 2 + tl
		if q > len(body) {
			return MQTTParseMalformed, 0, 0
		}
		msg.Topic = body[2:q]
		if msg.QoS > 0 {
			if q+2 > len(body) {
				return MQTTParseMalformed, 0, 0
			}
			msg.ID = uint16(body[q])<<8 | uint16(body[q+1])
			q += 2
		}
		msg.Data = body[q:]
	}
	return MQTTParseOK, end, 0
}

// appendMQTTHeader appends a fixed header: type, flags and the remaining
// length as a variable-length integer.
func appendMQTTHeader(b []byte, cmd, flags byte, n int) []byte {
	b = append(b, cmd<<4|flags&0x0f)
	for {
		d := byte(n & 0x7f)
		n >>= 7
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

func appendU16(b []byte, v uint16) []byte { return append(b, byte(v>>8), byte(v)) }

func appendMQTTString(b []byte, s []byte) []byte {
	b = appendU16(b, uint16(len(s)))
	return append(b, s...)
}

// MQTTConnectOptions is the content of a CONNECT packet (docs/api.md §9.1).
type MQTTConnectOptions struct {
	ClientID, Username, Password []byte
	CleanSession                 bool
	Keepalive                    uint16
	Will                         *MQTTWill // nil: no will
}

// MQTTWill is the message the broker publishes for a client whose
// connection ends without DISCONNECT (MQTT 3.1.1 §3.1.2.5-3.1.2.7).
type MQTTWill struct {
	Topic, Message []byte
	QoS            byte
	Retain         bool
}

// AppendMQTTConnect appends a protocol level 4 CONNECT packet.
func AppendMQTTConnect(b []byte, o *MQTTConnectOptions) []byte {
	var flags byte
	n := 10 + 2 + len(o.ClientID)
	if o.CleanSession {
		flags |= 0x02
	}
	if w := o.Will; w != nil {
		flags |= 0x04 | (w.QoS&3)<<3
		if w.Retain {
			flags |= 0x20
		}
		n += 2 + len(w.Topic) + 2 + len(w.Message)
	}
	if len(o.Username) > 0 {
		flags |= 0x80
		n += 2 + len(o.Username)
	}
	if len(o.Password) > 0 {
		flags |= 0x40
		n += 2 + len(o.Password)
	}
	b = appendMQTTHeader(b, MQTTConnect, 0, n)
	b = append(b, 0, 4, 'M', 'Q', 'T', 'T', 4, flags)
	b = appendU16(b, o.Keepalive)
	b = appendMQTTString(b, o.ClientID)
	if w := o.Will; w != nil {
		b = appendMQTTString(b, w.Topic)
		b = appendMQTTString(b, w.Message)
	}
	if len(o.Username) > 0 {
		b = appendMQTTString(b, o.Username)
	}
	if len(o.Password) > 0 {
		b = appendMQTTString(b, o.Password)
	}
	return b
}

// AppendMQTTPublish appends a PUBLISH; id is written only for qos > 0.
func AppendMQTTPublish(b []byte, topic, payload []byte, qos byte, retain bool, id uint16) []byte {
	flags := (qos & 3) << 1
	if retain {
		flags |= 1
	}
	n := 2 + len(topic) + len(payload)
	if qos&3 > 0 {
		n += 2
	}
	b = appendMQTTHeader(b, MQTTPublish, flags, n)
	b = appendMQTTString(b, topic)
	if qos&3 > 0 {
		b = appendU16(b, id)
	}
	return append(b, payload...)
}

// AppendMQTTSubscribe appends a SUBSCRIBE for one topic filter.
func AppendMQTTSubscribe(b []byte, topic []byte, qos byte, id uint16) []byte {
	b = appendMQTTHeader(b, MQTTSubscribe, 2, 2+2+len(topic)+1)
	b = appendU16(b, id)
	b = appendMQTTString(b, topic)
	return append(b, qos)
}

// AppendMQTTUnsubscribe appends an UNSUBSCRIBE for one topic filter.
func AppendMQTTUnsubscribe(b []byte, topic []byte, id uint16) []byte {
	b = appendMQTTHeader(b, MQTTUnsubscribe, 2, 2+2+len(topic))
	b = appendU16(b, id)
	return appendMQTTString(b, topic)
}

// AppendMQTTAck appends PUBACK/PUBREC/PUBREL/PUBCOMP (PUBREL has flags 2).
func AppendMQTTAck(b []byte, cmd byte, id uint16) []byte {
	var flags byte
	if cmd == MQTTPubrel {
		flags = 2
	}
	b = appendMQTTHeader(b, cmd, flags, 2)
	return appendU16(b, id)
}
