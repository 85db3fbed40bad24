package codec

import (
	"bytes"
	"errors"
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
