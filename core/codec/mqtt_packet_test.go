package codec

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/pymongoose-go/pymongoose-go/core/internal/testhex"
)

// mqttPacket is one row of the packet table: the exact bytes, what the
// parser must make of them, and (when the engine can write that packet)
// the encoder call that must produce them.
type mqttPacket struct {
	name   string
	hex    string
	want   MQTTMessage
	encode func() []byte
}

var mqttPackets = []mqttPacket{
	{"connect/clean/id", "10 11 0004 4d515454 04 02 003c 0005 6162636465",
		MQTTMessage{Cmd: MQTTConnect},
		func() []byte {
			return AppendMQTTConnect(nil, &MQTTConnectOptions{ClientID: []byte("abcde"), CleanSession: true, Keepalive: 60})
		}},
	{"connect/user/pass/no-clean", "10 17 0004 4d515454 04 c0 0000 0001 63 0004 75736572 0002 7077",
		MQTTMessage{Cmd: MQTTConnect},
		func() []byte {
			return AppendMQTTConnect(nil, &MQTTConnectOptions{ClientID: []byte("c"), Username: []byte("user"),
				Password: []byte("pw"), Keepalive: 0})
		}},
	{"connect/password-only", "10 12 0004 4d515454 04 42 ffff 0001 78 0003 736563",
		MQTTMessage{Cmd: MQTTConnect},
		func() []byte {
			return AppendMQTTConnect(nil, &MQTTConnectOptions{ClientID: []byte("x"), Password: []byte("sec"),
				CleanSession: true, Keepalive: 65535})
		}},
	{"connect/will/user/pass", "10 1d 0004 4d515454 04 ee 003c 0001 63 0003 772f74 0003 627965 0001 75 0001 70",
		MQTTMessage{Cmd: MQTTConnect},
		func() []byte {
			return AppendMQTTConnect(nil, &MQTTConnectOptions{ClientID: []byte("c"), Username: []byte("u"),
				Password: []byte("p"), CleanSession: true, Keepalive: 60,
				Will: &MQTTWill{Topic: []byte("w/t"), Message: []byte("bye"), QoS: 1, Retain: true}})
		}},
	{"connect/will/empty-message/qos2", "10 12 0004 4d515454 04 16 0000 0001 63 0001 74 0000",
		MQTTMessage{Cmd: MQTTConnect},
		func() []byte {
			return AppendMQTTConnect(nil, &MQTTConnectOptions{ClientID: []byte("c"), CleanSession: true,
				Will: &MQTTWill{Topic: []byte("t"), QoS: 2}})
		}},
	{"connack/accepted", "20 02 00 00", MQTTMessage{Cmd: MQTTConnack}, nil},
	{"connack/refused-5", "20 02 01 05", MQTTMessage{Cmd: MQTTConnack, Ack: 5}, nil},
	{"publish/qos0", "30 0a 0003 612f62 68656c6c6f", MQTTMessage{Cmd: MQTTPublish, Topic: []byte("a/b"), Data: []byte("hello")},
		func() []byte { return AppendMQTTPublish(nil, []byte("a/b"), []byte("hello"), 0, false, 0) }},
	{"publish/qos0/retain/empty", "31 03 0001 74", MQTTMessage{Cmd: MQTTPublish, Topic: []byte("t")},
		func() []byte { return AppendMQTTPublish(nil, []byte("t"), nil, 0, true, 0) }},
	{"publish/qos1", "32 06 0001 74 1234 7a", MQTTMessage{Cmd: MQTTPublish, QoS: 1, ID: 0x1234, Topic: []byte("t"), Data: []byte("z")},
		func() []byte { return AppendMQTTPublish(nil, []byte("t"), []byte("z"), 1, false, 0x1234) }},
	{"publish/qos2/retain", "35 05 0001 74 0001", MQTTMessage{Cmd: MQTTPublish, QoS: 2, ID: 1, Topic: []byte("t"), Data: []byte{}},
		func() []byte { return AppendMQTTPublish(nil, []byte("t"), nil, 2, true, 1) }},
	{"publish/qos-masked", "36 05 0001 74 0002", MQTTMessage{Cmd: MQTTPublish, QoS: 3, ID: 2, Topic: []byte("t"), Data: []byte{}},
		func() []byte { return AppendMQTTPublish(nil, []byte("t"), nil, 7, false, 2) }},
	{"publish/binary-payload", "30 07 0001 74 00ff0d0a", MQTTMessage{Cmd: MQTTPublish, Topic: []byte("t"), Data: []byte{0, 0xff, '\r', '\n'}},
		func() []byte { return AppendMQTTPublish(nil, []byte("t"), []byte{0, 0xff, '\r', '\n'}, 0, false, 0) }},
	{"puback", "40 02 0007", MQTTMessage{Cmd: MQTTPuback, ID: 7},
		func() []byte { return AppendMQTTAck(nil, MQTTPuback, 7) }},
	{"pubrec", "50 02 0102", MQTTMessage{Cmd: MQTTPubrec, ID: 0x102},
		func() []byte { return AppendMQTTAck(nil, MQTTPubrec, 0x102) }},
	{"pubrel", "62 02 ffff", MQTTMessage{Cmd: MQTTPubrel, QoS: 1, ID: 0xffff},
		func() []byte { return AppendMQTTAck(nil, MQTTPubrel, 0xffff) }},
	{"pubcomp", "70 02 0001", MQTTMessage{Cmd: MQTTPubcomp, ID: 1},
		func() []byte { return AppendMQTTAck(nil, MQTTPubcomp, 1) }},
	{"subscribe", "82 08 0003 0003 612f23 01", MQTTMessage{Cmd: MQTTSubscribe, QoS: 1, ID: 3},
		func() []byte { return AppendMQTTSubscribe(nil, []byte("a/#"), 1, 3) }},
	{"suback", "90 03 0003 01", MQTTMessage{Cmd: MQTTSuback, ID: 3}, nil},
	{"unsubscribe", "a2 07 0004 0003 2b2f62", MQTTMessage{Cmd: MQTTUnsubscribe, QoS: 1, ID: 4},
		func() []byte { return AppendMQTTUnsubscribe(nil, []byte("+/b"), 4) }},
	{"unsuback", "b0 02 0004", MQTTMessage{Cmd: MQTTUnsuback, ID: 4}, nil},
	{"pingreq", "c0 00", MQTTMessage{Cmd: MQTTPingreq}, nil},
	{"pingresp", "d0 00", MQTTMessage{Cmd: MQTTPingresp}, nil},
	{"disconnect", "e0 00", MQTTMessage{Cmd: MQTTDisconnect}, nil},
	{"publish/two-byte-length", "30 80 01 0001 74" + strings.Repeat("61", 125),
		MQTTMessage{Cmd: MQTTPublish, Topic: []byte("t"), Data: bytes.Repeat([]byte("a"), 125)},
		func() []byte { return AppendMQTTPublish(nil, []byte("t"), bytes.Repeat([]byte("a"), 125), 0, false, 0) }},
}

func sameMQTT(a, b *MQTTMessage) bool {
	return a.Cmd == b.Cmd && a.QoS == b.QoS && a.ID == b.ID && a.Ack == b.Ack &&
		bytes.Equal(a.Topic, b.Topic) && bytes.Equal(a.Data, b.Data)
}

func fmtMQTT(m *MQTTMessage) string {
	return fmt.Sprintf("{cmd %d qos %d id %d ack %d topic %q data %q}", m.Cmd, m.QoS, m.ID, m.Ack, m.Topic, m.Data)
}

func TestMQTTPacketTableDecode(t *testing.T) {
	for _, p := range mqttPackets {
		raw := testhex.Decode(p.hex)
		var msg MQTTMessage
		rc, size, _ := ParseMQTT(raw, &msg)
		if rc != MQTTParseOK || size != len(raw) {
			t.Errorf("%s: rc %d size %d, want OK %d", p.name, rc, size, len(raw))
			continue
		}
		if !sameMQTT(&msg, &p.want) {
			t.Errorf("%s: got %s want %s", p.name, fmtMQTT(&msg), fmtMQTT(&p.want))
		}
		// Every strict prefix is incomplete, never malformed.
		for i := 0; i < len(raw); i++ {
			if rc, _, _ := ParseMQTT(raw[:i], &msg); rc != MQTTParseIncomplete {
				t.Errorf("%s: prefix %d: rc %d, want incomplete", p.name, i, rc)
			}
		}
		// A following packet does not change the result.
		two := append(append([]byte{}, raw...), 0xc0, 0)
		if rc, size, _ := ParseMQTT(two, &msg); rc != MQTTParseOK || size != len(raw) {
			t.Errorf("%s: with a trailer: rc %d size %d", p.name, rc, size)
		}
	}
}

func TestMQTTPacketTableEncode(t *testing.T) {
	for _, p := range mqttPackets {
		if p.encode == nil {
			continue
		}
		if got, want := p.encode(), testhex.Decode(p.hex); !bytes.Equal(got, want) {
			t.Errorf("%s: encoded % x\nwant % x", p.name, got, want)
		}
	}
}

func TestMQTTParseMalformed(t *testing.T) {
	for _, s := range []string{
		"30 ff ff ff ff 01",  // remaining length longer than 4 bytes
		"20 01 00",           // CONNACK too short
		"40 01 00",           // PUBACK without a full id
		"30 01 00",           // PUBLISH without topic length
		"30 03 0005 61",      // topic longer than the packet
		"32 03 0001 74",      // QoS 1 without packet id
		"82 00",              // SUBSCRIBE without id
		"b0 00",              // UNSUBACK without id
		"30 80 80 80 80 00 ", // 5-byte length
	} {
		var msg MQTTMessage
		if rc, _, _ := ParseMQTT(testhex.Decode(s), &msg); rc != MQTTParseMalformed {
			t.Errorf("%s: rc %d, want malformed", s, rc)
		}
	}
	var msg MQTTMessage
	rc, _, need := ParseMQTT(testhex.Decode("30 ff ff ff 7f"), &msg)
	if rc != MQTTParseIncomplete || need != 5+mqttMaxRemaining {
		t.Errorf("max length: rc %d need %d", rc, need)
	}
}

// FuzzMQTTPacket checks that the parser never panics or reads outside its
// input, that its fields lie inside the packet, and that a re-encoded
// PUBLISH parses back to the same fields.
func FuzzMQTTPacket(f *testing.F) {
	for _, p := range mqttPackets {
		f.Add(testhex.Decode(p.hex))
	}
	f.Add([]byte{0x30, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x32, 0x03, 0, 1, 't'})
	f.Fuzz(func(t *testing.T, data []byte) {
		var msg MQTTMessage
		rc, size, need := ParseMQTT(data, &msg)
		switch rc {
		case MQTTParseOK:
			if size < 2 || size > len(data) {
				t.Fatalf("size %d of %d", size, len(data))
			}
			pkt := data[:size]
			for _, s := range [][]byte{msg.Topic, msg.Data} {
				if len(s) > 0 && !mqttWithin(pkt, s) {
					t.Fatalf("field outside the packet")
				}
			}
			if msg.Cmd == MQTTPublish {
				enc := AppendMQTTPublish(nil, msg.Topic, msg.Data, msg.QoS, data[0]&1 != 0, msg.ID)
				var back MQTTMessage
				if rc, n, _ := ParseMQTT(enc, &back); rc != MQTTParseOK || n != len(enc) || !sameMQTT(&back, &msg) {
					t.Fatalf("re-encoded publish: rc %d %s vs %s", rc, fmtMQTT(&back), fmtMQTT(&msg))
				}
			}
		case MQTTParseIncomplete:
			if need != 0 && need <= len(data) {
				t.Fatalf("incomplete with need %d <= %d", need, len(data))
			}
		case MQTTParseMalformed:
		default:
			t.Fatalf("rc %d", rc)
		}
	})
}

func mqttWithin(outer, inner []byte) bool {
	if len(inner) == 0 {
		return true
	}
	o0 := &outer[0]
	for i := range outer {
		if &outer[i] == &inner[0] {
			return i+len(inner) <= len(outer)
		}
	}
	_ = o0
	return false
}
