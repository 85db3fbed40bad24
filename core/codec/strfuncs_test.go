package codec

import (
	"bytes"
	"encoding/base64"
	"testing"
)

func TestHTTPVar(t *testing.T) {
	tests := []struct {
		buf, name, val string
		ok             bool
	}{
		{"a=1&b=2", "a", "1", true},
		{"a=1&b=2", "b", "2", true},
		{"a=1&b=2", "B", "2", true},
		{"A=1", "a", "1", true},
		{"a=1&b=2", "c", "", false},
		{"a=%20x+y&b", "a", "%20x+y", true},
		{"a=&b", "a", "", true},
		{"a&b", "b", "", true},
		{"a=1&&b=2", "b", "2", true},
		{"&&", "", "", false},
		{"=x", "", "x", true},
		{"a=1=2", "a", "1=2", true},
		{"ab=1&a=2", "a", "2", true},
		{"a=1&a=2", "a", "1", true},
		{"", "a", "", false},
		{"a=1&", "a", "1", true},
	}
	for _, tc := range tests {
		s, e, ok := HTTPVar([]byte(tc.buf), tc.name)
		if ok != tc.ok || (ok && tc.buf[s:e] != tc.val) {
			t.Errorf("HTTPVar(%q, %q) = %d,%d,%v", tc.buf, tc.name, s, e, ok)
		}
	}
}

func TestBase64(t *testing.T) {
	if Base64Encode(nil) != "" || Base64Encode([]byte("hello")) != "aGVsbG8=" {
		t.Fatal("encode")
	}
	tests := map[string]string{
		"":            "",
		"aGVsbG8=":    "hello",
		"aGVsbG8":     "hel", // trailing partial group ignored
		"aGVsbA==":    "hell",
		"QUJD":        "ABC",
		"QQ==QUJD":    "AABC", // '=' ends a group, decoding goes on
		"QQ=B":        "A",
		"QUI=":        "AB",
		"=QUJ":        "",
		"Q=JD":        "",
		"QU!D":        "",
		"QUJD\xff":    "ABC",
		"QUJDQ\xffJD": "",
		"+/+/":        "\xfb\xff\xbf",
	}
	for in, want := range tests {
		if got := Base64Decode([]byte(in)); string(got) != want || got == nil {
			t.Errorf("Base64Decode(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzBase64Decode(f *testing.F) {
	for _, s := range []string{"aGVsbG8=", "QQ==QUJD", "+/+/", "=", "QUJD\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got := Base64Decode(in)
		if len(got) > len(in)/4*3 {
			t.Fatalf("%d bytes from %d", len(got), len(in))
		}
		// Canonical padded input decodes as the standard decoder does.
		// (The standard decoder skips CR and LF; mg_base64_decode does not.)
		std, err := base64.StdEncoding.DecodeString(string(in))
		if err == nil && !bytes.ContainsAny(in, "\r\n") && !bytes.Equal(std, got) {
			t.Fatalf("Base64Decode(%q) = %q, std %q", in, got, std)
		}
		enc := Base64Encode(in)
		if back := Base64Decode([]byte(enc)); !bytes.Equal(back, in) {
			t.Fatalf("round trip of %q: %q", in, back)
		}
	})
}
