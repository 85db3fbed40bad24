package pybind

/*
#include "native.h"
*/
import "C"

import (
	"unsafe"
)

// Hot-path exports behind the MQTT Connection methods of mqtt.c. They
// return -1 when the connection is closed (RuntimeError("Connection has
// been closed")) and -2 on an internal failure.

// Kinds of pmg_mqtt_simple.
const (
	mqttPing       = 0
	mqttPong       = 1
	mqttDisconnect = 2
)

//export pmg_mqtt_pub
func pmg_mqtt_pub(mid C.longlong, id C.ulonglong, t *C.char, tn C.longlong, p *C.char, pn C.longlong,
	qos C.int, retain C.int) (rc C.longlong) {
	defer guard(&rc, -2)
	_, c := connOf(mid, id)
	if c == nil {
		return -1
	}
	pid, err := c.MQTTPub(goBytes(unsafe.Pointer(t), tn), goBytes(unsafe.Pointer(p), pn), byte(qos), retain != 0)
	if err != nil {
		return -1
	}
	return C.longlong(pid)
}

//export pmg_mqtt_sub
func pmg_mqtt_sub(mid C.longlong, id C.ulonglong, t *C.char, tn C.longlong, qos C.int, unsub C.int) (rc C.longlong) {
	defer guard(&rc, -2)
	_, c := connOf(mid, id)
	if c == nil {
		return -1
	}
	topic := goBytes(unsafe.Pointer(t), tn)
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
