package pybind

import (
	"encoding/hex"

	"github.com/pymongoose-go/pymongoose-go/core"
)

// MQTTConnect starts an MQTT client connection and returns its id; the
// CONNECT packet is queued before it returns. clientID, username and
// password arrive hex-encoded (gopy strings stop at NUL); keepalive is in
// seconds (16 bits).
func MQTTConnect(mid int64, url, clientIDHex, usernameHex, passwordHex string, cleanSession bool,
	keepalive int) (connID int64, err error) {
	defer recoverTo(&err)
	pm, err := open(mid)
	if err != nil {
		return 0, err
	}
	var o core.MQTTConnectOptions
	if o.ClientID, err = hex.DecodeString(clientIDHex); err != nil {
		return 0, err
	}
	if o.Username, err = hex.DecodeString(usernameHex); err != nil {
		return 0, err
	}
	if o.Password, err = hex.DecodeString(passwordHex); err != nil {
		return 0, err
	}
	o.CleanSession = cleanSession
	o.Keepalive = uint16(keepalive)
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
