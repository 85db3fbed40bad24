package codec

import "testing"

func TestParseURL(t *testing.T) {
	cases := []struct {
		in       string
		host     string
		port     int
		udp, tls bool
	}{
		{"tcp://127.0.0.1:8000", "127.0.0.1", 8000, false, false},
		{"127.0.0.1:0", "127.0.0.1", 0, false, false},
		{"http://example.com/path", "example.com", 80, false, false},
		{"https://u:p@host:8443/x", "host", 8443, false, true},
		{"udp://1.2.3.4:53", "1.2.3.4", 53, true, false},
		{"mqtt://broker", "broker", 1883, false, false},
		{"tcp://[::1]:99", "::1", 99, false, false},
		{"", "", 0, false, false},
		{"ws://h", "h", 80, false, false},
	}
	for _, tc := range cases {
		ep := ParseURL(tc.in)
		if ep.Host != tc.host || ep.Port != tc.port || ep.UDP != tc.udp || ep.TLS != tc.tls {
			t.Fatalf("%q: %+v", tc.in, ep)
		}
	}
	if ip := LiteralIP("LocalHost"); ip.String() != "127.0.0.1" {
		t.Fatal("localhost")
	}
	if LiteralIP("999.1.1.1") != nil || LiteralIP("") == nil {
		t.Fatal("literals")
	}
}
