package pybind

/*
#include "native.h"
*/
import "C"

import (
	"unicode/utf8"
	"unsafe"

	"github.com/pymongoose-go/pymongoose-go/core/codec"
)

// Hot-path exports behind the MQTT Connection methods of mqtt.c. They
// return -1 when the connection is closed (RuntimeError("Connection has
// been closed")), -2 on an internal failure and mqttInvalid when an
// argument breaks MQTT's rules: the message (ValueError) is then copied to
// errBuf. Arguments are checked before the connection is looked up, so a
// closed wrapper reports a bad argument first.

// Kinds of pmg_mqtt_simple.
const (
	mqttPing       = 0
	mqttPong       = 1
	mqttDisconnect = 2
)

const mqttInvalid = -3

// invalidArg copies err's message, NUL-terminated and cut at a character
// boundary, into buf (n bytes).
func invalidArg(err error, buf *C.char, n C.int) C.longlong {
	if n > 0 {
		dst := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(n))
		msg := err.Error()
		if len(msg) >= len(dst) {
			cut := len(dst) - 1
			for cut > 0 && !utf8.RuneStart(msg[cut]) {
				cut--
			}
			msg = msg[:cut]
		}
		dst[copy(dst, msg)] = 0
	}
	return mqttInvalid
}

//export pmg_mqtt_pub
func pmg_mqtt_pub(mid C.longlong, id C.ulonglong, t *C.char, tn C.longlong, p *C.char, pn C.longlong,
	qos C.int, retain C.int, errBuf *C.char, errLen C.int) (rc C.longlong) {
	defer guard(&rc, -2)
	topic := goBytes(unsafe.Pointer(t), tn)
	if err := codec.CheckMQTTPublish(topic, byte(qos)); err != nil {
		return invalidArg(err, errBuf, errLen)
	}
	_, c := connOf(mid, id)
	if c == nil {
		return -1
	}
	pid, err := c.MQTTPub(topic, goBytes(unsafe.Pointer(p), pn), byte(qos), retain != 0)
	if err != nil {
		return -1
	}
	return C.longlong(pid)
}

//export pmg_mqtt_sub
func pmg_mqtt_sub(mid C.longlong, id C.ulonglong, t *C.char, tn C.longlong, qos C.int, unsub C.int,
	errBuf *C.char, errLen C.int) (rc C.longlong) {
	defer guard(&rc, -2)
	topic := goBytes(unsafe.Pointer(t), tn)
	check := codec.CheckMQTTFilter(topic)
	if unsub == 0 {
		check = codec.CheckMQTTSubscribe(topic, byte(qos))
	}
	if check != nil {
		return invalidArg(check, errBuf, errLen)
	}
	_, c := connOf(mid, id)
	if c == nil {
		return -1
	}
	var pid uint16
	var err error
	if unsub != 0 {
		pid, err = c.MQTTUnsub(topic)
	} else {
		pid, err = c.MQTTSub(topic, byte(qos))
	}
	if err != nil {
		return -1
	}
	return C.longlong(pid)
}

//export pmg_mqtt_simple
func pmg_mqtt_simple(mid C.longlong, id C.ulonglong, kind C.int) (rc C.int) {
	defer guard(&rc, -2)
	_, c := connOf(mid, id)
	if c == nil {
		return -1
	}
	var err error
	switch kind {
	case mqttPing:
		err = c.MQTTPing()
	case mqttPong:
		err = c.MQTTPong()
	default:
		err = c.MQTTDisconnect()
	}
	if err != nil {
		return -1
	}
	return 0
}
