package codec

import (
	"bytes"
	"testing"
)

func TestFormDecode(t *testing.T) {
	cases := []struct {
		src  string
		room int
		want string
		err  error
	}{
		{"a+b%20c%41", 16, "a b cA", nil},
		{"", 4, "", nil},
		{"%4", 4, "", ErrFormEscape},         // truncated
		{"ab%41", 16, "abA", nil},            // an escape ending the value
		{"x%zz", 4, "x", ErrFormEscape},      // not hex
		{"abcdef", 3, "abc", ErrFormRoom},    // no room for the 4th byte
		{"abc%zz", 3, "abc", ErrFormRoom},    // the room runs out first
		{"a%zzbcdef", 3, "a", ErrFormEscape}, // the bad escape comes first
	}
	for _, c := range cases {
		dst := make([]byte, c.room)
		n, err := FormDecode(dst, []byte(c.src))
		if err != c.err || string(dst[:n]) != c.want {
			t.Errorf("FormDecode(%q, room %d) = %q, %v; want %q, %v", c.src, c.room, dst[:n], err, c.want, c.err)
		}
	}
}

func TestHeaderVar(t *testing.T) {
	cases := []struct{ v, name, want string }{
		{`form-data; name="field"; filename="a b.txt"`, "filename", "a b.txt"},
		{`form-data; name=plain; x=1`, "name", "plain"},
		{`a=b`, "a", ""}, // a match needs two bytes after the '='
		{`name=""`, "name", ""},
		{`x`, "", ""},
	}
	for _, c := range cases {
		s := HeaderVar([]byte(c.v), c.name)
		if got := string([]byte(c.v)[s.Off : s.Off+s.Len]); got != c.want {
			t.Errorf("HeaderVar(%q, %q) = %q, want %q", c.v, c.name, got, c.want)
		}
	}
}

// FuzzFormDecode: never out of bounds, the length fits dst, and an
// error-free decoding of an escape-free value is the value with '+' as ' '.
func FuzzFormDecode(f *testing.F) {
	f.Add([]byte("a+b%20c"), 8)
	f.Add([]byte("%zz%4"), 2)
	f.Fuzz(func(t *testing.T, src []byte, room int) {
		if room < 0 || room > 4096 {
			return
		}
		dst := make([]byte, room)
		n, err := FormDecode(dst, src)
		if n < 0 || n > room {
			t.Fatalf("FormDecode(%q, %d) = %d", src, room, n)
		}
		if err == nil && bytes.IndexByte(src, '%') < 0 && string(dst[:n]) != string(bytes.ReplaceAll(src, []byte("+"), []byte(" "))) {
			t.Fatalf("FormDecode(%q) = %q", src, dst[:n])
		}
	})
}
