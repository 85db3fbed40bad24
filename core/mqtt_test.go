package core

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pymongoose-go/pymongoose-go/core/codec"
	"github.com/pymongoose-go/pymongoose-go/core/internal/testhex"
)

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
	connect := codec.AppendMQTTConnect(nil, &codec.MQTTConnectOptions{ClientID: []byte("me"), Username: []byte("u"),
		Password: []byte("p"), CleanSession: true, Keepalive: 0})
	addr, done := fakeBroker(t, func(conn net.Conn) error {
		if err := expectBytes(conn, connect); err != nil {
			return err
		}
		// CONNACK, a QoS 1 and a QoS 2 PUBLISH in one segment.
		conn.Write(testhex.Decode("20 02 00 00  32 06 0001 74 0009 31  34 06 0001 74 000a 32"))
		if err := expectBytes(conn, testhex.Decode("40 02 0009  50 02 000a")); err != nil {
			return err
		}
		conn.Write(testhex.Decode("62 02 000a")) // PUBREL -> PUBCOMP
		if err := expectBytes(conn, testhex.Decode("70 02 000a")); err != nil {
			return err
		}
		// Our QoS 2 publish: PUBREC from us -> PUBREL
		if err := expectBytes(conn, testhex.Decode("34 06 0001 71 0001 78")); err != nil {
			return err
		}
		conn.Write(testhex.Decode("50 02 0001"))
		if err := expectBytes(conn, testhex.Decode("62 02 0001")); err != nil {
			return err
		}
		conn.Write(testhex.Decode("70 02 0001"))
		if err := expectBytes(conn, testhex.Decode("82 06 0002 0001 73 01  a2 05 0003 0001 73  c0 00 d0 00 e0 00")); err != nil {
			return err
		}
		conn.Write(testhex.Decode("90 03 0002 01 b0 02 0003 d0 00"))
		_, err := conn.Read(make([]byte, 1)) // until we close
		if err == io.EOF {
			err = nil
		}
		return err
	})
	c, err := h.m.MQTTConnect("tcp://"+addr, codec.MQTTConnectOptions{ClientID: []byte("me"), Username: []byte("u"),
		Password: []byte("p"), CleanSession: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cc = c
	if !bytes.Equal(c.SendData(), connect) {
		t.Fatalf("CONNECT not queued inside the call: % x", c.SendData())
	}
	h.until("QoS 2 in", func() bool { return countCmd(log, codec.MQTTPubrel) > 0 })
	if id, _ := c.MQTTPub([]byte("q"), []byte("x"), 2, false); id != 1 {
		t.Fatalf("first id %d", id)
	}
	h.until("pubcomp", func() bool { return countCmd(log, codec.MQTTPubcomp) > 0 })
	if id, _ := c.MQTTSub([]byte("s"), 1); id != 2 {
		t.Fatalf("sub id %d", id)
	}
	if id, _ := c.MQTTUnsub([]byte("s")); id != 3 {
		t.Fatalf("unsub id %d", id)
	}
	c.MQTTPing()
	c.MQTTPong()
	c.MQTTDisconnect()
	h.until("pingresp", func() bool { return countCmd(log, codec.MQTTPingresp) > 0 })
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
		if r.ev == EvMQTTCmd && r.cmd == codec.MQTTConnack && !bytes.HasPrefix(r.raw, testhex.Decode("20 02 00 00 32")) {
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
		conn.Write(testhex.Decode("20 02 00 05"))
		io.ReadAll(conn)
		return nil
	})
	c, err := h.m.MQTTConnect("tcp://"+addr, codec.MQTTConnectOptions{CleanSession: true, Keepalive: 60}, nil)
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
		conn.Write(testhex.Decode("20 02 00 00"))
		if err := expectBytes(conn, testhex.Decode("c0 00")); err != nil {
			return err
		}
		conn.Write(testhex.Decode("d0 00"))
		io.ReadAll(conn)
		return nil
	})
	c, err := h.m.MQTTConnect("tcp://"+addr, codec.MQTTConnectOptions{ClientID: []byte("k"), Keepalive: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cc = c
	h.until("pingresp", func() bool { return countCmd(log, codec.MQTTPingresp) > 0 })
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
	ch := rawClient(addr, testhex.Decode("10 0d 0004 4d515454 04 02 003c 0001 61  82 08 0005 0003 612f23 01  32 06 0001 74 0007 7a  c0 00"), true)
	res := recv(h, "client", ch)
	if res.err != nil {
		t.Fatal(res.err)
	}
	// The engine answers only the QoS 1 PUBLISH.
	if !bytes.Equal(res.data, testhex.Decode("40 02 0007")) {
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
	if !bytes.HasPrefix(log[1].raw, testhex.Decode("82 08 0005")) {
		t.Fatalf("SUBSCRIBE raw % x", log[1].raw)
	}
}

func TestMQTTMalformedCloses(t *testing.T) {
	for _, s := range []string{"30 ff ff ff ff 01", "20 01 00", "32 03 0001 74", "36 06 0001 74 0001 78"} {
		var log []mqttRec
		h, addr := serverSide(t, nil, &log)
		ch := rawClient(addr, testhex.Decode(s), false) // the server must close first
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
	ch := rawClient(addr, testhex.Decode("30 d0 0f 0001 74"), false)
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
	pkt := codec.AppendMQTTPublish(nil, []byte("big"), payload, 0, false, 0)
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
	if msgs != 1 || countCmd(log, codec.MQTTDisconnect) != 1 {
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
	if !bytes.Equal(c.SendData(), testhex.Decode("30 03 0001 74")) {
		t.Fatalf("% x", c.SendData())
	}
	c.Close()
	if _, err := c.MQTTSub([]byte("x"), 0); err == nil {
		t.Fatal("closed conn accepted a SUBSCRIBE")
	}
}

// Invalid arguments queue nothing: the send buffer is unchanged.
func TestMQTTInvalidArgumentsQueueNothing(t *testing.T) {
	h := newHarness(t, nil, nil)
	l, _ := h.listen(false)
	addr := "tcp://" + l.LocalAddr().String()
	if _, err := h.m.MQTTConnect(addr, codec.MQTTConnectOptions{Password: []byte("p")}, nil); !errors.Is(err, codec.ErrMQTTInvalid) {
		t.Fatalf("connect: %v", err)
	}
	c, err := h.m.MQTTConnect(addr, codec.MQTTConnectOptions{ClientID: []byte("x")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := append([]byte(nil), c.SendData()...)
	for _, err := range []error{
		func() error { _, err := c.MQTTPub(bytes.Repeat([]byte("t"), 70000), nil, 0, false); return err }(),
		func() error { _, err := c.MQTTPub([]byte("t"), nil, 3, false); return err }(),
		func() error { _, err := c.MQTTSub([]byte("a#"), 0); return err }(),
		func() error { _, err := c.MQTTUnsub(nil); return err }(),
	} {
		if !errors.Is(err, codec.ErrMQTTInvalid) {
			t.Fatalf("got %v", err)
		}
	}
	if !bytes.Equal(c.SendData(), before) {
		t.Fatalf("queued % x", c.SendData()[len(before):])
	}
	c.Close()
}

// A broker that answers CONNACK and then ignores PINGREQ: the client
// reports an error and closes once the keep-alive period has passed.
func TestMQTTPingrespTimeout(t *testing.T) {
	var log []mqttRec
	var cc *Conn
	var errs []string
	rec := recordMQTT(&log, &cc)
	h := newHarness(t, nil, func(c *Conn, ev Event, data any) Result {
		if ev == EvError {
			errs = append(errs, data.(string))
		}
		return rec(c, ev, data)
	})
	addr, done := fakeBroker(t, func(conn net.Conn) error {
		if _, err := readN(conn, 2+10+2+1); err != nil {
			return err
		}
		conn.Write(testhex.Decode("20 02 00 00"))
		if err := expectBytes(conn, testhex.Decode("c0 00")); err != nil {
			return err
		}
		io.ReadAll(conn) // silent until the client closes
		return nil
	})
	c, err := h.m.MQTTConnect("tcp://"+addr, codec.MQTTConnectOptions{ClientID: []byte("k"), Keepalive: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cc = c
	h.until("close", func() bool { return c.has(fClosed) })
	if len(errs) != 1 || !strings.Contains(errs[0], "no PINGRESP") {
		t.Fatalf("errors %q", errs)
	}
	if err := recv(h, "broker", done); err != nil {
		t.Fatal(err)
	}
}
