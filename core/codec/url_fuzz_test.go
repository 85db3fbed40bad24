package codec

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzURLCodec checks the URL helpers beyond the URL splitter
// (FuzzURLParts): listen/connect's Endpoint parser stays inside its input,
// percent-encoding round-trips through the static-file
// path decoder, its length is announced exactly, and http_var's value span
// lies inside the query and never crosses a '&'.
func FuzzURLCodec(f *testing.F) {
	f.Add([]byte("a b/c?d=e&f"), "d")
	f.Add([]byte("%zz%4"), "x")
	f.Add([]byte("A=1&&a=2&b"), "a")
	f.Add([]byte{0, 0xff, '%', '0', '0'}, "")
	f.Add([]byte("mqtts://u:p@[::1]:99999/x"), "")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		ep := ParseURL(string(data))
		if ep.Port < 0 || ep.Port > 0xffff || !strings.Contains(string(data), ep.Host) {
			t.Fatalf("ParseURL(%q) = %+v", data, ep)
		}
		enc := AppendURLEncode(nil, data)
		if len(enc) != URLEncodedLen(data) || len(enc) > 3*len(data) {
			t.Fatalf("encoded length %d, announced %d", len(enc), URLEncodedLen(data))
		}
		for i := 0; i < len(enc); i++ {
			if c := enc[i]; c == '%' {
				if unhex(enc[i+1]) < 0 || unhex(enc[i+2]) < 0 {
					t.Fatalf("bad escape in %q", enc)
				}
				i += 2
			} else if !urlUnreserved(c) {
				t.Fatalf("reserved byte %q left in %q", c, enc)
			}
		}
		dec, ok := PathDecode(string(enc))
		if hasNUL := bytes.IndexByte(data, 0) >= 0; ok == hasNUL || ok && dec != string(data) {
			t.Fatalf("PathDecode(%q) = %q, %v", enc, dec, ok)
		}
		if d, ok := PathDecode(string(data)); ok && (len(d) > len(data) || bytes.IndexByte([]byte(d), 0) >= 0) {
			t.Fatalf("PathDecode(%q) = %q", data, d)
		}
		if s, e, ok := HTTPVar(data, name); ok {
			if s < 0 || e < s || e > len(data) || bytes.IndexByte(data[s:e], '&') >= 0 {
				t.Fatalf("HTTPVar(%q, %q) = [%d,%d)", data, name, s, e)
			}
		}
	})
}
