package core

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
)

func TestMQTTArgumentRules(t *testing.T) {
	long := bytes.Repeat([]byte("a"), 65536)
	max := bytes.Repeat([]byte("a"), 65535)
	cases := []struct {
		name string
		err  error
		want string // "" for valid
	}{
		{"topic ok", CheckMQTTPublish([]byte("a/b c/é"), 2), ""},
		{"topic 65535", CheckMQTTPublish(max, 0), ""},
		{"topic 65536", CheckMQTTPublish(long, 0), "65536 bytes long"},
		{"topic empty", CheckMQTTPublish(nil, 0), "is empty"},
		{"topic +", CheckMQTTPublish([]byte("a/+/b"), 0), "wildcard"},
		{"topic #", CheckMQTTPublish([]byte("a/#"), 0), "wildcard"},
		{"topic NUL", CheckMQTTPublish([]byte("a\x00b"), 0), "NUL"},
		{"qos 3", CheckMQTTPublish([]byte("t"), 3), "must be 0, 1 or 2 (got 3)"},
		{"filter ok", CheckMQTTSubscribe([]byte("+/a/+/#"), 2), ""},
		{"filter #", CheckMQTTSubscribe([]byte("#"), 0), ""},
		{"filter +", CheckMQTTSubscribe([]byte("+"), 0), ""},
		{"filter empty levels", CheckMQTTSubscribe([]byte("/a//"), 0), ""},
		{"filter # not last", CheckMQTTSubscribe([]byte("a/#/b"), 0), "whole last level"},
		{"filter a#", CheckMQTTSubscribe([]byte("a/b#"), 0), "whole last level"},
		{"filter a+", CheckMQTTSubscribe([]byte("a/b+/c"), 0), "'+' must be a whole level"},
		{"filter empty", CheckMQTTSubscribe([]byte(""), 0), "is empty"},
		{"filter long", CheckMQTTFilter(long), "65536 bytes long"},
		{"filter qos", CheckMQTTSubscribe([]byte("a"), 4), "got 4"},
		{"connect ok", (&MQTTConnectOptions{Username: []byte("u"), Password: []byte("p")}).Check(), ""},
		{"password only", (&MQTTConnectOptions{Password: []byte("p")}).Check(), "without a username"},
		{"client id long", (&MQTTConnectOptions{ClientID: long}).Check(), "client id is 65536"},
		{"will ok", (&MQTTConnectOptions{Will: &MQTTWill{Topic: []byte("w")}}).Check(), ""},
		{"will empty topic", (&MQTTConnectOptions{Will: &MQTTWill{}}).Check(), "will topic is empty"},
		{"will wildcard", (&MQTTConnectOptions{Will: &MQTTWill{Topic: []byte("w/#")}}).Check(), "wildcard"},
		{"will qos", (&MQTTConnectOptions{Will: &MQTTWill{Topic: []byte("w"), QoS: 3}}).Check(), "will QoS"},
		{"will long", (&MQTTConnectOptions{Will: &MQTTWill{Topic: []byte("w"), Message: long}}).Check(),
			"will message is 65536"},
	}
	for _, tc := range cases {
		if tc.want == "" {
			if tc.err != nil {
				t.Errorf("%s: %v", tc.name, tc.err)
			}
			continue
		}
		if tc.err == nil || !errors.Is(tc.err, ErrMQTTInvalid) || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, tc.err, tc.want)
		}
	}
}

// Invalid arguments queue nothing: the send buffer is unchanged.
func TestMQTTInvalidArgumentsQueueNothing(t *testing.T) {
	h := newHarness(t, nil, nil)
	l, _ := h.listen(false)
	addr := "tcp://" + l.LocalAddr().String()
	if _, err := h.m.MQTTConnect(addr, MQTTConnectOptions{Password: []byte("p")}, nil); !errors.Is(err, ErrMQTTInvalid) {
		t.Fatalf("connect: %v", err)
	}
	c, err := h.m.MQTTConnect(addr, MQTTConnectOptions{ClientID: []byte("x")}, nil)
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
		if !errors.Is(err, ErrMQTTInvalid) {
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
		conn.Write(mqttHex("20 02 00 00"))
		if err := expectBytes(conn, mqttHex("c0 00")); err != nil {
			return err
		}
		io.ReadAll(conn) // silent until the client closes
		return nil
	})
	c, err := h.m.MQTTConnect("tcp://"+addr, MQTTConnectOptions{ClientID: []byte("k"), Keepalive: 1}, nil)
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
