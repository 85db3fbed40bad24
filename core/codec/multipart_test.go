package codec

import (
	"bytes"
	"mime/multipart"
	"strings"
	"testing"
)

const mpExample = "--xyz\r\n" +
	"Content-Disposition: form-data; name=\"val\"\r\n" +
	"\r\n" +
	"abcdef\r\n" +
	"--xyz\r\n" +
	"Content-Disposition: form-data; name=\"foo\"; filename=\"a.txt\"\r\n" +
	"Content-Type: text/plain\r\n" +
	"\r\n" +
	"hello world\r\n" +
	"--xyz--\r\n"

type mpResult struct {
	next                 int
	name, filename, body string
	ok                   bool
}

func parseMP(body string, off int) mpResult {
	next, p, ok := ParseMultipart([]byte(body), off)
	b := []byte(body)
	sub := func(s Span) string { return string(b[s.Off : s.Off+s.Len]) }
	return mpResult{next, sub(p.Name), sub(p.Filename), sub(p.Body), ok}
}

func TestParseMultipartExample(t *testing.T) {
	want := []mpResult{
		{61, "val", "", "abcdef", true},
		{171, "foo", "a.txt", "hello world", true},
		{0, "", "", "", false},
	}
	off := 0
	for i, w := range want {
		got := parseMP(mpExample, off)
		if got != w {
			t.Fatalf("part %d at %d: got %+v; want %+v", i, off, got, w)
		}
		off = got.next
	}
}

// end in a wanted next offset stands for the offset just after the CRLF
// that precedes the final "--x--".
const end = -1

func TestParseMultipart(t *testing.T) {
	bin := "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.bin\"\r\n\r\n" +
		"\x00\x01\r\n\x00\xff--b\r\n--b--\r\n"
	tests := []struct {
		name string
		body string
		off  int
		want mpResult
	}{
		{"binary body with NUL and CRLF", bin, 0, mpResult{len(bin) - 7, "f", "x.bin", "\x00\x01\r\n\x00\xff--b", true}},
		{"end marker", mpExample, 171, mpResult{}},
		{"offset past end", mpExample, 1000, mpResult{}},
		{"offset at end", mpExample, len(mpExample), mpResult{}},
		{"negative offset", mpExample, -1, mpResult{}},
		{"empty", "", 0, mpResult{}},
		{"garbage", "hello", 0, mpResult{}},
		{"no blank line", "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n", 0, mpResult{}},
		{"truncated body", "--x\r\n\r\nabc", 0, mpResult{}},
		{"closing boundary without trailer", "--x\r\n\r\nabc\r\n--x", 0, mpResult{}},
		{"no headers", "--x\r\n\r\nabc\r\n--x--\r\n", 0, mpResult{end, "", "", "abc", true}},
		{"empty part body", "--x\r\n\r\n\r\n--x--\r\n", 0, mpResult{end, "", "", "", true}},
		{"header name case-insensitive", "--x\r\ncontent-disposition: form-data; name=n1\r\n\r\nv\r\n--x--\r\n",
			0, mpResult{end, "n1", "", "v", true}},
		{"name= found inside filename=", "--x\r\nContent-Disposition: form-data; filename=\"f.txt\"; name=\"n\"\r\n\r\nv\r\n--x--\r\n",
			0, mpResult{end, "f.txt", "f.txt", "v", true}},
		{"unquoted value ends at ;", "--x\r\nContent-Disposition: form-data; name=ab;x\r\n\r\nv\r\n--x--\r\n",
			0, mpResult{end, "ab", "", "v", true}},
		{"empty value", "--x\r\nContent-Disposition: form-data; name=\"\"; filename=\"q\"\r\n\r\nv\r\n--x--\r\n",
			0, mpResult{end, "", "q", "v", true}},
		{"one-char value at end not found", "--x\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--x--\r\n",
			0, mpResult{end, "", "", "v", true}},
		{"other headers ignored", "--x\r\nX-Name: name=\"zz\"\r\n\r\nv\r\n--x--\r\n", 0, mpResult{end, "", "", "v", true}},
		{"boundary of offset line is the delimiter", "junk\r\n--x\r\n\r\na\r\n--x--\r\n", 6, mpResult{end, "", "", "a", true}},
		{"body containing the boundary without CRLF", "--x\r\n\r\na--xb\r\n--x--\r\n", 0, mpResult{end, "", "", "a--xb", true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want.next == end {
				tc.want.next = strings.Index(tc.body, "\r\n--x--") + 2
			}
			got := parseMP(tc.body, tc.off)
			if got != tc.want {
				t.Fatalf("got %+v; want %+v", got, tc.want)
			}
		})
	}
}

// writeMultipart builds a body with mime/multipart.
func writeMultipart(t testing.TB, boundary string, parts [][3]string) []byte {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if err := w.SetBoundary(boundary); err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		var pw interface{ Write([]byte) (int, error) }
		var err error
		if p[1] != "" {
			pw, err = w.CreateFormFile(p[0], p[1])
		} else {
			pw, err = w.CreateFormField(p[0])
		}
		if err != nil {
			t.Fatal(err)
		}
		pw.Write([]byte(p[2]))
	}
	w.Close()
	return buf.Bytes()
}

func TestParseMultipartIterate(t *testing.T) {
	parts := [][3]string{{"a", "", "1"}, {"file", "x.png", "\x89PNG\r\n\x1a\n\x00"}, {"c", "", ""}}
	body := writeMultipart(t, "BOUNDARY123", parts)
	off, i := 0, 0
	for {
		next, p, ok := ParseMultipart(body, off)
		if !ok {
			break
		}
		if i >= len(parts) {
			t.Fatalf("extra part")
		}
		got := [3]string{string(body[p.Name.Off : p.Name.Off+p.Name.Len]),
			string(body[p.Filename.Off : p.Filename.Off+p.Filename.Len]),
			string(body[p.Body.Off : p.Body.Off+p.Body.Len])}
		if got != parts[i] {
			t.Fatalf("part %d: got %q want %q", i, got, parts[i])
		}
		off, i = next, i+1
	}
	if i != len(parts) {
		t.Fatalf("got %d parts, want %d", i, len(parts))
	}
}

func FuzzParseMultipart(f *testing.F) {
	f.Add([]byte(mpExample), 0, "n", []byte("v"))
	f.Add([]byte(mpExample), 61, "file", []byte("\r\n--"))
	f.Add([]byte("--x\r\n\r\n\r\n--x--\r\n"), 0, "", []byte{})
	f.Fuzz(func(t *testing.T, body []byte, off int, name string, content []byte) {
		next, p, ok := ParseMultipart(body, off)
		if !ok {
			if next != 0 || p != (MultipartPart{}) {
				t.Fatalf("failure with data: %d %+v", next, p)
			}
		} else {
			if next <= off || next > len(body) || !bytes.Equal(body[next-2:next], []byte("\r\n")) {
				t.Fatalf("bad next %d (off %d, len %d)", next, off, len(body))
			}
			for _, s := range []Span{p.Name, p.Filename, p.Body} {
				if s.Off < 0 || s.Len < 0 || s.Off+s.Len > len(body) {
					t.Fatalf("span out of range: %+v", s)
				}
			}
			if p.Body.Off+p.Body.Len != next-2 {
				t.Fatalf("body does not end at the CRLF before next")
			}
			if boundary := body[off:mpLineEnd(body, off)]; !bytes.HasPrefix(body[next:], boundary) {
				t.Fatalf("next does not start with the boundary line")
			}
		}

		// Round trip through mime/multipart for simple names.
		for _, c := range []byte(name) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
				return
			}
		}
		if name == "" || bytes.Contains(content, []byte("--B0undary")) {
			return
		}
		mp := writeMultipart(t, "B0undary", [][3]string{{name, "", string(content)}, {"z", name + ".txt", "x"}})
		next, p, ok = ParseMultipart(mp, 0)
		if !ok || string(mp[p.Name.Off:p.Name.Off+p.Name.Len]) != name ||
			!bytes.Equal(mp[p.Body.Off:p.Body.Off+p.Body.Len], content) {
			t.Fatalf("round trip of %q %q failed: %v %+v", name, content, ok, p)
		}
		_, p, ok = ParseMultipart(mp, next)
		if !ok || string(mp[p.Filename.Off:p.Filename.Off+p.Filename.Len]) != name+".txt" {
			t.Fatalf("second part of round trip failed")
		}
	})
}
