package core

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
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

func mqttHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

var mqttPackets = []mqttPacket{
	{"connect/clean/id", "10 11 0004 4d515454 04 02 003c 0005 6162636465",
		MQTTMessage{Cmd: MQTTConnect},
		func() []byte {
			return appendMQTTConnect(nil, &MQTTConnectOptions{ClientID: []byte("abcde"), CleanSession: true, Keepalive: 60})
		}},
	{"connect/user/pass/no-clean", "10 17 0004 4d515454 04 c0 0000 0001 63 0004 75736572 0002 7077",
		MQTTMessage{Cmd: MQTTConnect},
		func() []byte {
			return appendMQTTConnect(nil, &MQTTConnectOptions{ClientID: []byte("c"), Username: []byte("user"),
				Password: []byte("pw"), Keepalive: 0})
		}},
	{"connect/password-only", "10 12 0004 4d515454 04 42 ffff 0001 78 0003 736563",
		MQTTMessage{Cmd: MQTTConnect},
		func() []byte {
			return appendMQTTConnect(nil, &MQTTConnectOptions{ClientID: []byte("x"), Password: []byte("sec"),
				CleanSession: true, Keepalive: 65535})
		}},
	{"connect/will/user/pass", "10 1d 0004 4d515454 04 ee 003c 0001 63 0003 772f74 0003 627965 0001 75 0001 70",
		MQTTMessage{Cmd: MQTTConnect},
		func() []byte {
			return appendMQTTConnect(nil, &MQTTConnectOptions{ClientID: []byte("c"), Username: []byte("u"),
				Password: []byte("p"), CleanSession: true, Keepalive: 60,
				Will: &MQTTWill{Topic: []byte("w/t"), Message: []byte("bye"), QoS: 1, Retain: true}})
		}},
	{"connect/will/empty-message/qos2", "10 12 0004 4d515454 04 16 0000 0001 63 0001 74 0000",
		MQTTMessage{Cmd: MQTTConnect},
		func() []byte {
			return appendMQTTConnect(nil, &MQTTConnectOptions{ClientID: []byte("c"), CleanSession: true,
				Will: &MQTTWill{Topic: []byte("t"), QoS: 2}})
		}},
	{"connack/accepted", "20 02 00 00", MQTTMessage{Cmd: MQTTConnack}, nil},
	{"connack/refused-5", "20 02 01 05", MQTTMessage{Cmd: MQTTConnack, Ack: 5}, nil},
	{"publish/qos0", "30 0a 0003 612f62 68656c6c6f", MQTTMessage{Cmd: MQTTPublish, Topic: []byte("a/b"), Data: []byte("hello")},
		func() []byte { return appendMQTTPublish(nil, []byte("a/b"), []byte("hello"), 0, false, 0) }},
	{"publish/qos0/retain/empty", "31 03 0001 74", MQTTMessage{Cmd: MQTTPublish, Topic: []byte("t")},
		func() []byte { return appendMQTTPublish(nil, []byte("t"), nil, 0, true, 0) }},
	{"publish/qos1", "32 06 0001 74 1234 7a", MQTTMessage{Cmd: MQTTPublish, QoS: 1, ID: 0x1234, Topic: []byte("t"), Data: []byte("z")},
		func() []byte { return appendMQTTPublish(nil, []byte("t"), []byte("z"), 1, false, 0x1234) }},
	{"publish/qos2/retain", "35 05 0001 74 0001", MQTTMessage{Cmd: MQTTPublish, QoS: 2, ID: 1, Topic: []byte("t"), Data: []byte{}},
		func() []byte { return appendMQTTPublish(nil, []byte("t"), nil, 2, true, 1) }},
	{"publish/qos-masked", "36 05 0001 74 0002", MQTTMessage{Cmd: MQTTPublish, QoS: 3, ID: 2, Topic: []byte("t"), Data: []byte{}},
		func() []byte { return appendMQTTPublish(nil, []byte("t"), nil, 7, false, 2) }},
	{"publish/binary-payload", "30 07 0001 74 00ff0d0a", MQTTMessage{Cmd: MQTTPublish, Topic: []byte("t"), Data: []byte{0, 0xff, '\r', '\n'}},
		func() []byte { return appendMQTTPublish(nil, []byte("t"), []byte{0, 0xff, '\r', '\n'}, 0, false, 0) }},
	{"puback", "40 02 0007", MQTTMessage{Cmd: MQTTPuback, ID: 7},
		func() []byte { return appendMQTTAck(nil, MQTTPuback, 7) }},
	{"pubrec", "50 02 0102", MQTTMessage{Cmd: MQTTPubrec, ID: 0x102},
		func() []byte { return appendMQTTAck(nil, MQTTPubrec, 0x102) }},
	{"pubrel", "62 02 ffff", MQTTMessage{Cmd: MQTTPubrel, QoS: 1, ID: 0xffff},
		func() []byte { return appendMQTTAck(nil, MQTTPubrel, 0xffff) }},
	{"pubcomp", "70 02 0001", MQTTMessage{Cmd: MQTTPubcomp, ID: 1},
		func() []byte { return appendMQTTAck(nil, MQTTPubcomp, 1) }},
	{"subscribe", "82 08 0003 0003 612f23 01", MQTTMessage{Cmd: MQTTSubscribe, QoS: 1, ID: 3},
		func() []byte { return appendMQTTSubscribe(nil, []byte("a/#"), 1, 3) }},
	{"suback", "90 03 0003 01", MQTTMessage{Cmd: MQTTSuback, ID: 3}, nil},
	{"unsubscribe", "a2 07 0004 0003 2b2f62", MQTTMessage{Cmd: MQTTUnsubscribe, QoS: 1, ID: 4},
		func() []byte { return appendMQTTUnsubscribe(nil, []byte("+/b"), 4) }},
	{"unsuback", "b0 02 0004", MQTTMessage{Cmd: MQTTUnsuback, ID: 4}, nil},
	{"pingreq", "c0 00", MQTTMessage{Cmd: MQTTPingreq}, nil},
	{"pingresp", "d0 00", MQTTMessage{Cmd: MQTTPingresp}, nil},
	{"disconnect", "e0 00", MQTTMessage{Cmd: MQTTDisconnect}, nil},
	{"publish/two-byte-length", "30 80 01 0001 74" + strings.Repeat("61", 125),
		MQTTMessage{Cmd: MQTTPublish, Topic: []byte("t"), Data: bytes.Repeat([]byte("a"), 125)},
		func() []byte { return appendMQTTPublish(nil, []byte("t"), bytes.Repeat([]byte("a"), 125), 0, false, 0) }},
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
		raw := mqttHex(p.hex)
		var msg MQTTMessage
		rc, size, _ := parseMQTT(raw, &msg)
		if rc != mqttOK || size != len(raw) {
			t.Errorf("%s: rc %d size %d, want OK %d", p.name, rc, size, len(raw))
			continue
		}
		if !sameMQTT(&msg, &p.want) {
			t.Errorf("%s: got %s want %s", p.name, fmtMQTT(&msg), fmtMQTT(&p.want))
		}
		// Every strict prefix is incomplete, never malformed.
		for i := 0; i < len(raw); i++ {
			if rc, _, _ := parseMQTT(raw[:i], &msg); rc != mqttIncomplete {
				t.Errorf("%s: prefix %d: rc %d, want incomplete", p.name, i, rc)
			}
		}
		// A following packet does not change the result.
		two := append(append([]byte{}, raw...), 0xc0, 0)
		if rc, size, _ := parseMQTT(two, &msg); rc != mqttOK || size != len(raw) {
			t.Errorf("%s: with a trailer: rc %d size %d", p.name, rc, size)
		}
	}
}

func TestMQTTPacketTableEncode(t *testing.T) {
	for _, p := range mqttPackets {
		if p.encode == nil {
			continue
		}
		if got, want := p.encode(), mqttHex(p.hex); !bytes.Equal(got, want) {
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
		if rc, _, _ := parseMQTT(mqttHex(s), &msg); rc != mqttMalformed {
			t.Errorf("%s: rc %d, want malformed", s, rc)
		}
	}
	var msg MQTTMessage
	rc, _, need := parseMQTT(mqttHex("30 ff ff ff 7f"), &msg)
	if rc != mqttIncomplete || need != 5+mqttMaxRemaining {
		t.Errorf("max length: rc %d need %d", rc, need)
	}
}

// FuzzMQTTPacket checks that the parser never panics or reads outside its
// input, that its fields lie inside the packet, and that a re-encoded
// PUBLISH parses back to the same fields.
func FuzzMQTTPacket(f *testing.F) {
	for _, p := range mqttPackets {
		f.Add(mqttHex(p.hex))
	}
	f.Add([]byte{0x30, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x32, 0x03, 0, 1, 't'})
	f.Fuzz(func(t *testing.T, data []byte) {
		var msg MQTTMessage
		rc, size, need := parseMQTT(data, &msg)
		switch rc {
		case mqttOK:
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
				enc := appendMQTTPublish(nil, msg.Topic, msg.Data, msg.QoS, data[0]&1 != 0, msg.ID)
				var back MQTTMessage
				if rc, n, _ := parseMQTT(enc, &back); rc != mqttOK || n != len(enc) || !sameMQTT(&back, &msg) {
					t.Fatalf("re-encoded publish: rc %d %s vs %s", rc, fmtMQTT(&back), fmtMQTT(&msg))
				}
			}
		case mqttIncomplete:
			if need != 0 && need <= len(data) {
				t.Fatalf("incomplete with need %d <= %d", need, len(data))
			}
		case mqttMalformed:
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

// --- engine tests on loopback -----------------------------------------

type mqttRec struct {
	ev   Event
	cmd  byte
	qos  byte
	id   uint16
	ack  byte
	top  string
	data string
	code int
	raw  []byte // RecvData at the event
}

func recordMQTT(log *[]mqttRec, c0 **Conn) func(c *Conn, ev Event, data any) Result {
	return func(c *Conn, ev Event, data any) Result {
		if c0 != nil && *c0 != nil && c != *c0 {
			return ResultOK
		}
		switch ev {
		case EvMQTTCmd, EvMQTTMsg:
			m := data.(*MQTTMessage)
			*log = append(*log, mqttRec{ev: ev, cmd: m.Cmd, qos: m.QoS, id: m.ID, ack: m.Ack, top: string(m.Topic),
				data: string(m.Data), raw: append([]byte(nil), c.RecvData()...)})
		case EvMQTTOpen:
			*log = append(*log, mqttRec{ev: ev, code: data.(int)})
		case EvError:
			*log = append(*log, mqttRec{ev: ev, data: data.(string)})
		case EvRead, EvClose:
			*log = append(*log, mqttRec{ev: ev})
		}
		return ResultOK
	}
}

// fakeBroker accepts one connection and runs script with it.
func fakeBroker(t *testing.T, script func(conn net.Conn) error) (string, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan error, 1)
	go func() {
		defer ln.Close()
		conn, err := ln.Accept()
		if err != nil {
			ch <- err
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		ch <- script(conn)
	}()
	return ln.Addr().String(), ch
}

func readN(conn net.Conn, n int) ([]byte, error) {
	b := make([]byte, n)
	_, err := io.ReadFull(conn, b)
	return b, err
}

func expectBytes(conn net.Conn, want []byte) error {
	got, err := readN(conn, len(want))
	if err != nil {
		return fmt.Errorf("reading % x: %v (got % x)", want, err, got)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("got % x want % x", got, want)
	}
	return nil
}

func TestMQTTClientFlows(t *testing.T) {
	var log []mqttRec
	var cc *Conn
	h := newHarness(t, nil, recordMQTT(&log, &cc))
	connect := appendMQTTConnect(nil, &MQTTConnectOptions{ClientID: []byte("me"), Username: []byte("u"),
		Password: []byte("p"), CleanSession: true, Keepalive: 0})
	addr, done := fakeBroker(t, func(conn net.Conn) error {
		if err := expectBytes(conn, connect); err != nil {
			return err
		}
		// CONNACK, a QoS 1 and a QoS 2 PUBLISH in one segment.
		conn.Write(mqttHex("20 02 00 00  32 06 0001 74 0009 31  34 06 0001 74 000a 32"))
		if err := expectBytes(conn, mqttHex("40 02 0009  50 02 000a")); err != nil {
			return err
		}
		conn.Write(mqttHex("62 02 000a")) // PUBREL -> PUBCOMP
		if err := expectBytes(conn, mqttHex("70 02 000a")); err != nil {
			return err
		}
		// Our QoS 2 publish: PUBREC from us -> PUBREL
		if err := expectBytes(conn, mqttHex("34 06 0001 71 0001 78")); err != nil {
			return err
		}
		conn.Write(mqttHex("50 02 0001"))
		if err := expectBytes(conn, mqttHex("62 02 0001")); err != nil {
			return err
		}
		conn.Write(mqttHex("70 02 0001"))
		if err := expectBytes(conn, mqttHex("82 06 0002 0001 73 01  a2 05 0003 0001 73  c0 00 d0 00 e0 00")); err != nil {
			return err
		}
		conn.Write(mqttHex("90 03 0002 01 b0 02 0003 d0 00"))
		_, err := conn.Read(make([]byte, 1)) // until we close
		if err == io.EOF {
			err = nil
		}
		return err
	})
	c, err := h.m.MQTTConnect("tcp://"+addr, MQTTConnectOptions{ClientID: []byte("me"), Username: []byte("u"),
		Password: []byte("p"), CleanSession: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cc = c
	if !bytes.Equal(c.SendData(), connect) {
		t.Fatalf("CONNECT not queued inside the call: % x", c.SendData())
	}
	h.until("QoS 2 in", func() bool { return countCmd(log, MQTTPubrel) > 0 })
	if id, _ := c.MQTTPub([]byte("q"), []byte("x"), 2, false); id != 1 {
		t.Fatalf("first id %d", id)
	}
	h.until("pubcomp", func() bool { return countCmd(log, MQTTPubcomp) > 0 })
	if id, _ := c.MQTTSub([]byte("s"), 1); id != 2 {
		t.Fatalf("sub id %d", id)
	}
	if id, _ := c.MQTTUnsub([]byte("s")); id != 3 {
		t.Fatalf("unsub id %d", id)
	}
	c.MQTTPing()
	c.MQTTPong()
	c.MQTTDisconnect()
	h.until("pingresp", func() bool { return countCmd(log, MQTTPingresp) > 0 })
	c.Close()
	if err := recv(h, "broker", done); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range log {
		switch r.ev {
		case EvMQTTOpen:
			got = append(got, fmt.Sprintf("OPEN(%d)", r.code))
		case EvMQTTMsg:
			got = append(got, fmt.Sprintf("MSG(%s,%s,q%d,#%d)", r.top, r.data, r.qos, r.id))
		case EvMQTTCmd:
			got = append(got, fmt.Sprintf("CMD%d#%d", r.cmd, r.id))
		case EvRead:
			got = append(got, "READ")
		case EvClose:
			got = append(got, "CLOSE")
		}
	}
	want := "OPEN(0) CMD2#0 MSG(t,1,q1,#9) CMD3#9 MSG(t,2,q2,#10) CMD3#10 READ CMD6#10 READ CMD5#1 READ CMD7#1 READ " +
		"CMD9#2 CMD11#3 CMD13#0 READ CLOSE"
	if s := strings.Join(got, " "); s != want {
		t.Fatalf("events\n got %s\nwant %s", s, want)
	}
	// The packet is still in the receive buffer during its events.
	for _, r := range log {
		if r.ev == EvMQTTCmd && r.cmd == MQTTConnack && !bytes.HasPrefix(r.raw, mqttHex("20 02 00 00 32")) {
			t.Fatalf("recv at CONNACK: % x", r.raw)
		}
	}
}

func countCmd(log []mqttRec, cmd byte) int {
	n := 0
	for _, r := range log {
		if r.ev == EvMQTTCmd && r.cmd == cmd {
			n++
		}
	}
	return n
}

func TestMQTTConnackRefusedCloses(t *testing.T) {
	var log []mqttRec
	var cc *Conn
	h := newHarness(t, nil, recordMQTT(&log, &cc))
	addr, done := fakeBroker(t, func(conn net.Conn) error {
		buf := make([]byte, 256)
		conn.Read(buf)
		conn.Write(mqttHex("20 02 00 05"))
		io.ReadAll(conn)
		return nil
	})
	c, err := h.m.MQTTConnect("tcp://"+addr, MQTTConnectOptions{CleanSession: true, Keepalive: 60}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cc = c
	// random 19-character client id
	sd := c.SendData()
	if len(sd) != 2+10+2+19 || sd[12] != 0 || sd[13] != 19 {
		t.Fatalf("CONNECT % x", sd)
	}
	for _, ch := range sd[14:] {
		if !strings.ContainsRune(clientIDChars, rune(ch)) {
			t.Fatalf("client id %q", sd[14:])
		}
	}
	h.until("close", c.IsClosed)
	recv(h, "broker", done)
	if len(log) < 3 || log[0].ev != EvMQTTOpen || log[0].code != 5 || log[1].ev != EvMQTTCmd || log[len(log)-1].ev != EvClose {
		t.Fatalf("log %+v", log)
	}
}

func TestMQTTKeepalivePing(t *testing.T) {
	var log []mqttRec
	var cc *Conn
	h := newHarness(t, nil, recordMQTT(&log, &cc))
	addr, done := fakeBroker(t, func(conn net.Conn) error {
		if _, err := readN(conn, 2+10+2+1); err != nil {
			return err
		}
		conn.Write(mqttHex("20 02 00 00"))
		if err := expectBytes(conn, mqttHex("c0 00")); err != nil {
			return err
		}
		conn.Write(mqttHex("d0 00"))
		io.ReadAll(conn)
		return nil
	})
	c, err := h.m.MQTTConnect("tcp://"+addr, MQTTConnectOptions{ClientID: []byte("k"), Keepalive: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cc = c
	h.until("pingresp", func() bool { return countCmd(log, MQTTPingresp) > 0 })
	c.Close()
	if err := recv(h, "broker", done); err != nil {
		t.Fatal(err)
	}
}

// serverSide starts an MQTT listener and returns the address; accepted
// conns are recorded in *acc.
func serverSide(t *testing.T, lim *Limits, log *[]mqttRec) (*harness, string) {
	var h *harness
	rec := recordMQTT(log, nil)
	h = newHarness(t, lim, func(c *Conn, ev Event, data any) Result {
		if c.IsListening() {
			return ResultOK
		}
		return rec(c, ev, data)
	})
	l, err := h.m.MQTTListen("mqtt://127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	return h, fmt.Sprintf("127.0.0.1:%d", l.LocalAddr().Port)
}

func TestMQTTServerSide(t *testing.T) {
	var log []mqttRec
	h, addr := serverSide(t, nil, &log)
	ch := rawClient(addr, mqttHex("10 0d 0004 4d515454 04 02 003c 0001 61  82 08 0005 0003 612f23 01  32 06 0001 74 0007 7a  c0 00"), true)
	res := recv(h, "client", ch)
	if res.err != nil {
		t.Fatal(res.err)
	}
	// The engine answers only the QoS 1 PUBLISH.
	if !bytes.Equal(res.data, mqttHex("40 02 0007")) {
		t.Fatalf("server wrote % x", res.data)
	}
	var got []string
	for _, r := range log {
		switch r.ev {
		case EvMQTTCmd:
			got = append(got, fmt.Sprintf("CMD%d/q%d#%d[%s]", r.cmd, r.qos, r.id, r.top))
		case EvMQTTMsg:
			got = append(got, "MSG")
		}
	}
	if s := strings.Join(got, " "); s != "CMD1/q0#0[] CMD8/q1#5[] MSG CMD3/q1#7[t] CMD12/q0#0[]" {
		t.Fatalf("events %s", s)
	}
	if !bytes.HasPrefix(log[1].raw, mqttHex("82 08 0005")) {
		t.Fatalf("SUBSCRIBE raw % x", log[1].raw)
	}
}

func TestMQTTMalformedCloses(t *testing.T) {
	for _, s := range []string{"30 ff ff ff ff 01", "20 01 00", "32 03 0001 74", "36 06 0001 74 0001 78"} {
		var log []mqttRec
		h, addr := serverSide(t, nil, &log)
		ch := rawClient(addr, mqttHex(s), false) // the server must close first
		res := recv(h, "client", ch)
		if res.err != nil || len(res.data) != 0 {
			t.Fatalf("%s: %v % x", s, res.err, res.data)
		}
		for _, r := range log {
			if r.ev == EvError || r.ev == EvMQTTCmd {
				t.Fatalf("%s: unexpected %+v", s, r)
			}
		}
		if log[len(log)-1].ev != EvClose {
			t.Fatalf("%s: %+v", s, log)
		}
	}
}

func TestMQTTOversizeCloses(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxMessageSize = 1000
	var log []mqttRec
	h, addr := serverSide(t, &lim, &log)
	// Only the header of a 2000-byte packet: rejected before it arrives.
	ch := rawClient(addr, mqttHex("30 d0 0f 0001 74"), false)
	res := recv(h, "client", ch)
	if res.err != nil {
		t.Fatal(res.err)
	}
	found := false
	for _, r := range log {
		if r.ev == EvError && r.data == "MG_MAX_RECV_SIZE" {
			found = true
		}
	}
	if !found || log[len(log)-1].ev != EvClose {
		t.Fatalf("%+v", log)
	}
}

func TestMQTTLargeMessageOverRecvLimit(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxRecvSize = 4096 // a packet may exceed it: MaxMessageSize bounds packets
	var log []mqttRec
	h, addr := serverSide(t, &lim, &log)
	payload := bytes.Repeat([]byte("p"), 100000)
	pkt := appendMQTTPublish(nil, []byte("big"), payload, 0, false, 0)
	ch := rawClient(addr, append(pkt, 0xe0, 0), true)
	recv(h, "client", ch)
	h.until("close", func() bool { return len(log) > 0 && log[len(log)-1].ev == EvClose })
	var msgs int
	for _, r := range log {
		if r.ev == EvError {
			t.Fatalf("error %q", r.data)
		}
		if r.ev == EvMQTTMsg {
			msgs++
			if r.top != "big" || r.data != string(payload) {
				t.Fatalf("bad message")
			}
		}
	}
	if msgs != 1 || countCmd(log, MQTTDisconnect) != 1 {
		t.Fatalf("msgs %d", msgs)
	}
}

func TestMQTTPacketIDWraps(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.m.mqttID = 0xfffe
	l, _ := h.listen(false)
	if a, b := h.m.nextMQTTID(), h.m.nextMQTTID(); a != 0xffff || b != 1 {
		t.Fatalf("%d %d", a, b)
	}
	// On a non-MQTT connection the methods still queue the packet.
	c, err := h.m.Connect(fmt.Sprintf("tcp://127.0.0.1:%d", l.LocalAddr().Port), ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if id, err := c.MQTTPub([]byte("t"), nil, 0, false); id != 0 || err != nil {
		t.Fatal(id, err)
	}
	if !bytes.Equal(c.SendData(), mqttHex("30 03 0001 74")) {
		t.Fatalf("% x", c.SendData())
	}
	c.Close()
	if _, err := c.MQTTSub([]byte("x"), 0); err == nil {
		t.Fatal("closed conn accepted a SUBSCRIBE")
	}
}
