package codec

import (
	"net/url"
	"strings"
	"testing"
)

func TestURLEncode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"a", "a"},
		{" ", "%20"},
		{"~", "~"},
		{"  ", "%20%20"},
		{"é", "%c3%a9"},
		{"a b&c", "a%20b%26c"},
		{"AZaz09-._~", "AZaz09-._~"},
		{"/?#[]@!$'()*+,;=%", "%2f%3f%23%5b%5d%40%21%24%27%28%29%2a%2b%2c%3b%3d%25"},
		{"\x00\x7f\xff", "%00%7f%ff"},
		{"€", "%e2%82%ac"},
	}
	for _, tc := range tests {
		got := string(AppendURLEncode(nil, []byte(tc.in)))
		if got != tc.want {
			t.Errorf("AppendURLEncode(%q) = %q; want %q", tc.in, got, tc.want)
		}
		if n := URLEncodedLen([]byte(tc.in)); n != len(tc.want) {
			t.Errorf("URLEncodedLen(%q) = %d; want %d", tc.in, n, len(tc.want))
		}
	}
}

func TestURLEncodeAppends(t *testing.T) {
	got := string(AppendURLEncode([]byte("x="), []byte("a b")))
	if got != "x=a%20b" {
		t.Fatalf("got %q", got)
	}
}

func TestURLEncodeAllBytes(t *testing.T) {
	var src []byte
	for c := 0; c < 256; c++ {
		src = append(src, byte(c))
	}
	enc := string(AppendURLEncode(nil, src))
	for i := 0; i < len(enc); i++ {
		if enc[i] == '%' && strings.ToLower(enc[i:i+3]) != enc[i:i+3] {
			t.Fatalf("upper-case hex in %q", enc[i:i+3])
		}
	}
	if len(enc) > 3*len(src) {
		t.Fatalf("longer than 3n")
	}
	dec, err := url.PathUnescape(enc)
	if err != nil || dec != string(src) {
		t.Fatalf("round trip failed: %v", err)
	}
}
