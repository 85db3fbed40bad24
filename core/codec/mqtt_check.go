package codec

import (
	"bytes"
	"errors"
	"fmt"
)

// Argument rules of the MQTT client API (MQTT 3.1.1 §1.5.3, §3.1.2, §4.7):
// whatever breaks them is refused before anything is queued, so the peer
// never reads a packet whose length fields were truncated.

// ErrMQTTInvalid matches (errors.Is) every argument error of the MQTT API.
var ErrMQTTInvalid = errors.New("invalid MQTT argument")

type mqttArgError string

func (e mqttArgError) Error() string        { return string(e) }
func (e mqttArgError) Is(target error) bool { return target == ErrMQTTInvalid }

func mqttInvalid(format string, args ...any) error {
	return mqttArgError(fmt.Sprintf(format, args...))
}

// mqttMaxString is the largest length a two-byte length prefix can carry.
const mqttMaxString = 0xffff

func checkMQTTLen(what string, s []byte) error {
	if len(s) > mqttMaxString {
		return mqttInvalid("MQTT %s is %d bytes long; the limit is 65535", what, len(s))
	}
	return nil
}

// checkMQTTName checks what topic names and filters share: not empty, not
// too long, no U+0000.
func checkMQTTName(what string, s []byte) error {
	if len(s) == 0 {
		return mqttInvalid("MQTT %s is empty", what)
	}
	if err := checkMQTTLen(what, s); err != nil {
		return err
	}
	if bytes.IndexByte(s, 0) >= 0 {
		return mqttInvalid("MQTT %s %.40q contains a NUL character", what, s)
	}
	return nil
}

// CheckMQTTTopic checks a topic name (PUBLISH, will): wildcards belong to
// subscribe filters only (§4.7.1).
func CheckMQTTTopic(what string, topic []byte) error {
	if err := checkMQTTName(what, topic); err != nil {
		return err
	}
	if bytes.ContainsAny(topic, "+#") {
		return mqttInvalid("MQTT %s %.40q contains a wildcard (+ or #); wildcards are only valid in "+
			"subscribe filters", what, topic)
	}
	return nil
}

// CheckMQTTFilter checks a topic filter (SUBSCRIBE, UNSUBSCRIBE): `#` only
// as the whole last level, `+` only as a whole level (§4.7.1.2-3).
func CheckMQTTFilter(filter []byte) error {
	if err := checkMQTTName("topic filter", filter); err != nil {
		return err
	}
	levels := bytes.Split(filter, []byte("/"))
	for i, level := range levels {
		if bytes.IndexByte(level, '#') >= 0 && (len(level) != 1 || i != len(levels)-1) {
			return mqttInvalid("MQTT topic filter %.40q: '#' must be the whole last level", filter)
		}
		if bytes.IndexByte(level, '+') >= 0 && len(level) != 1 {
			return mqttInvalid("MQTT topic filter %.40q: '+' must be a whole level", filter)
		}
	}
	return nil
}

// CheckMQTTQoS checks a QoS level.
func CheckMQTTQoS(what string, qos int) error {
	if qos < 0 || qos > 2 {
		return mqttInvalid("MQTT %s must be 0, 1 or 2 (got %d)", what, qos)
	}
	return nil
}

// CheckMQTTPublish checks the arguments of a PUBLISH.
func CheckMQTTPublish(topic []byte, qos byte) error {
	if err := CheckMQTTTopic("topic", topic); err != nil {
		return err
	}
	return CheckMQTTQoS("QoS", int(qos))
}

// CheckMQTTSubscribe checks the arguments of a SUBSCRIBE.
func CheckMQTTSubscribe(filter []byte, qos byte) error {
	if err := CheckMQTTFilter(filter); err != nil {
		return err
	}
	return CheckMQTTQoS("QoS", int(qos))
}

// Check validates the CONNECT contents (§3.1.2-3.1.3).
func (o *MQTTConnectOptions) Check() error {
	if err := checkMQTTLen("client id", o.ClientID); err != nil {
		return err
	}
	if err := checkMQTTLen("username", o.Username); err != nil {
		return err
	}
	if err := checkMQTTLen("password", o.Password); err != nil {
		return err
	}
	if len(o.Password) > 0 && len(o.Username) == 0 {
		return mqttInvalid("MQTT password given without a username (MQTT 3.1.1 §3.1.2.9)")
	}
	if w := o.Will; w != nil {
		if err := CheckMQTTTopic("will topic", w.Topic); err != nil {
			return err
		}
		if err := checkMQTTLen("will message", w.Message); err != nil {
			return err
		}
		if err := CheckMQTTQoS("will QoS", int(w.QoS)); err != nil {
			return err
		}
	}
	return nil
}
