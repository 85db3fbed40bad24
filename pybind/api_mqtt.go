package pybind

import (
	"encoding/hex"
	"errors"

	"github.com/pymongoose-go/pymongoose-go/core"
	"github.com/pymongoose-go/pymongoose-go/core/codec"
)

// hexField is one hex-encoded byte-string argument (gopy strings stop at
// NUL) and where its decoded bytes go.
type hexField struct {
	hex string
	dst *[]byte
}

// mqttConnectOptions decodes the arguments of MQTTConnect and
// MQTTCheckConnect; keepalive is in seconds (16 bits); no will without
// hasWill.
func mqttConnectOptions(clientIDHex, usernameHex, passwordHex string, cleanSession bool, keepalive int,
	hasWill bool, willTopicHex, willMessageHex string, willQoS int, willRetain bool) (o codec.MQTTConnectOptions, err error) {
	fields := []hexField{{clientIDHex, &o.ClientID}, {usernameHex, &o.Username}, {passwordHex, &o.Password}}
	if hasWill {
		if err := codec.CheckMQTTQoS("will QoS", willQoS); err != nil {
			return o, err // before the conversion to a byte
		}
		o.Will = &codec.MQTTWill{QoS: byte(willQoS), Retain: willRetain}
		fields = append(fields, hexField{willTopicHex, &o.Will.Topic}, hexField{willMessageHex, &o.Will.Message})
	}
	for _, f := range fields {
		if *f.dst, err = hex.DecodeString(f.hex); err != nil {
			return o, err
		}
	}
	o.CleanSession = cleanSession
	o.Keepalive = uint16(keepalive)
	return o, nil
}

// MQTTCheckConnect returns why the arguments of MQTTConnect break MQTT's
// rules (Python raises it as ValueError), or "" when they are valid.
func MQTTCheckConnect(clientIDHex, usernameHex, passwordHex string, hasWill bool, willTopicHex,
	willMessageHex string, willQoS int) (msg string, err error) {
	defer recoverTo(&err)
	o, err := mqttConnectOptions(clientIDHex, usernameHex, passwordHex, true, 0, hasWill, willTopicHex,
		willMessageHex, willQoS, false)
	if err == nil {
		err = o.Check()
	}
	if errors.Is(err, codec.ErrMQTTInvalid) {
		return err.Error(), nil
	}
	return "", err
}

// MQTTConnect starts an MQTT client connection and returns its id; the
// CONNECT packet is queued before it returns.
func MQTTConnect(mid int64, url, clientIDHex, usernameHex, passwordHex string, cleanSession bool,
	keepalive int, hasWill bool, willTopicHex, willMessageHex string, willQoS int, willRetain bool) (connID int64, err error) {
	defer recoverTo(&err)
	pm, err := open(mid)
	if err != nil {
		return 0, err
	}
	o, err := mqttConnectOptions(clientIDHex, usernameHex, passwordHex, cleanSession, keepalive, hasWill,
		willTopicHex, willMessageHex, willQoS, willRetain)
	if err != nil {
		return 0, err
	}
	c, err := pm.m.MQTTConnect(url, o, func(c *core.Conn) { pm.wrapper(c) })
	if err != nil {
		return 0, err
	}
	return int64(c.ID()), nil
}

// MQTTListen starts a listener whose accepted connections run the MQTT
// engine and returns its id.
func MQTTListen(mid int64, url string) (connID int64, err error) {
	defer recoverTo(&err)
	pm, err := open(mid)
	if err != nil {
		return 0, err
	}
	c, err := pm.m.MQTTListen(url, func(c *core.Conn) { pm.wrapper(c) })
	if err != nil {
		return 0, err
	}
	return int64(c.ID()), nil
}
