package codec

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"strings"
	"testing"
)

func jsonTok(data, path string) (string, bool) {
	off, n, ok := JSONGet([]byte(data), path)
	if !ok {
		return "", false
	}
	return data[off : off+n], true
}

func nested(depth int, inner string) string {
	return strings.Repeat("[", depth) + inner + strings.Repeat("]", depth)
}

func TestJSONGet(t *testing.T) {
	const doc = `{"name":"Alice","age":30,"ok":true,"no":false,"nil":null,` +
		`"tags":["x","y",{"k":[10,20,30]}],"obj":{ "a" : [1, 2] },"e":"a\"b"}`
	tests := []struct {
		name, data, path string
		want             string
		ok               bool
	}{
		// Path syntax.
		{"root", doc, "$", doc, true},
		{"root number", ` 42 `, "$", "42", true},
		{"no dollar", doc, "name", "", false},
		{"empty path", doc, "", "", false},
		{"string keeps quotes", doc, "$.name", `"Alice"`, true},
		{"string keeps escapes", doc, "$.e", `"a\"b"`, true},
		{"number", doc, "$.age", "30", true},
		{"true", doc, "$.ok", "true", true},
		{"false", doc, "$.no", "false", true},
		{"null", doc, "$.nil", "null", true},
		{"array verbatim", doc, "$.tags", `["x","y",{"k":[10,20,30]}]`, true},
		{"object verbatim with whitespace", doc, "$.obj", `{ "a" : [1, 2] }`, true},
		{"array element", doc, "$.tags[1]", `"y"`, true},
		{"chained", doc, "$.tags[2].k[2]", "30", true},
		{"nested arrays", `[[1,2],[3,4]]`, "$[1][0]", "3", true},
		{"nested array whole", `[[1,2],[3,4]]`, "$[1]", "[3,4]", true},
		{"index out of range", `[1,2]`, "$[2]", "", false},
		{"negative index", `[1,2]`, "$[-1]", "", false},
		{"wildcard", `[1,2]`, "$[*]", "", false},
		{"missing key", doc, "$.zzz", "", false},
		{"key prefix is not a match", `{"ab":1}`, "$.a", "", false},
		{"path longer than key", `{"a":1}`, "$.ab", "", false},
		{"nested key not at top", `{"b":{"a":1}}`, "$.a", "", false},
		{"through a scalar", `{"a":1,"b":2}`, "$.a.b", "", false},
		{"member of array", `[1]`, "$.a", "", false},
		{"index of object", `{"a":1}`, "$[0]", "", false},
		{"duplicate keys first wins", `{"a":1,"a":2}`, "$.a", "1", true},
		{"escapes in keys not interpreted", `{"a\u0062":1}`, `$.a\u0062`, "1", true},
		{"escaped key does not match plain", `{"a\u0062":1}`, "$.ab", "", false},
		// Number spelling is kept.
		{"exponent", `{"a":1e3}`, "$.a", "1e3", true},
		{"leading zero", `{"a":01}`, "$.a", "01", true},
		{"negative float", `[-3.9]`, "$[0]", "-3.9", true},
		{"plus is not a value", `{"a":+1}`, "$.a", "", false},
		// Quirks.
		{"dotted key", `{"a.b":1}`, "$.a.b", "1", true},
		{"dotted key prefers first", `{"a":{"b":2},"a.b":1}`, "$.a.b", "2", true},
		{"stops at target", `{"a":1,`, "$.a", "1", true},
		{"garbage after target", `{"a":[1,2] xxx`, "$.a", "[1,2]", true},
		{"garbage after root", `truex`, "$", "true", true},
		{"malformed before target", `{"x":?,"a":1}`, "$.a", "", false},
		{"unterminated string before", `{"x":"abc`, "$.a", "", false},
		{"missing colon", `{"a" 1}`, "$.a", "", false},
		{"empty object", `{"a":{}}`, "$.a", "{}", true},
		{"empty array", `{"a":[]}`, "$.a", "[]", true},
		{"empty array element", `[[]]`, "$[0]", "[]", true},
		{"empty input", ``, "$", "", false},
		{"whitespace only", " \n\t", "$", "", false},
		{"nul in path ends it", `{"a":1}`, "$.a\x00zzz", "1", true},
		{"nul in string fails", "{\"a\":\"x\x00\"}", "$.a", "", false},
		// Depth.
		{"depth 30", nested(30, "1"), "$", nested(30, "1"), true},
		{"depth 31", nested(31, "1"), "$", "", false},
		{"deep after target", `{"a":1,"b":` + nested(40, "") + `}`, "$.a", "1", true},
		{"deep before target", `{"b":` + nested(40, "") + `,"a":1}`, "$.a", "", false},
		{"depth 30 indexed", nested(30, "7"), "$" + strings.Repeat("[0]", 30), "7", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := jsonTok(tc.data, tc.path)
			if ok != tc.ok || got != tc.want {
				t.Fatalf("JSONGet(%q, %q) = %q, %v; want %q, %v", tc.data, tc.path, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestJSONGetNum(t *testing.T) {
	tests := []struct {
		data string
		want float64
		ok   bool
	}{
		{`{"a":1}`, 1, true},
		{`{"a":-2.5}`, -2.5, true},
		{`{"a":1e3}`, 1000, true},
		{`{"a":1E-2}`, 0.01, true},
		{`{"a":1.23}`, 1.23, true},
		{`{"a":01}`, 1, true},
		{`{"a":1.}`, 1, true},
		{`{"a":-}`, 0, true},
		{`{"a":1e400}`, math.Inf(1), true},
		{`{"a":-1e400}`, math.Inf(-1), true},
		{`{"a":1e-400}`, 0, true},
		{`{"a":"1"}`, 0, false},
		{`{"a":true}`, 0, false},
		{`{"a":null}`, 0, false},
		{`{"a":+1}`, 0, false},
		{`{"a":[1]}`, 0, false},
		{`{"b":1}`, 0, false},
	}
	for _, tc := range tests {
		got, ok := JSONGetNum([]byte(tc.data), "$.a")
		if ok != tc.ok || got != tc.want {
			t.Errorf("JSONGetNum(%q) = %v, %v; want %v, %v", tc.data, got, ok, tc.want, tc.ok)
		}
	}
	if v, _ := JSONGetNum([]byte(`[-0]`), "$[0]"); !math.Signbit(v) {
		t.Errorf("-0 lost its sign")
	}
}

func TestJSONGetBool(t *testing.T) {
	tests := []struct {
		data   string
		want   bool
		wantOK bool
	}{
		{`{"a":true}`, true, true},
		{`{"a":false}`, false, true},
		{`{"a":null}`, false, false},
		{`{"a":"true"}`, false, false},
		{`{"a":1}`, false, false},
		{`{"a":tru}`, false, false},
		{`{}`, false, false},
	}
	for _, tc := range tests {
		v, ok := JSONGetBool([]byte(tc.data), "$.a")
		if v != tc.want || ok != tc.wantOK {
			t.Errorf("JSONGetBool(%q) = %v, %v; want %v, %v", tc.data, v, ok, tc.want, tc.wantOK)
		}
	}
}

func TestJSONGetLong(t *testing.T) {
	tests := []struct {
		data string
		dflt int64
		want int64
	}{
		{`{"a":42}`, 0, 42},
		{`{"a":3.9}`, 0, 3},
		{`{"a":-3.9}`, 0, -3},
		{`{"a":1e3}`, 0, 1000},
		{`{"a":9007199254740993}`, 0, 9007199254740992}, // above 2**53: via float64
		{`{"a":"5"}`, 7, 7},
		{`{"a":+5}`, 7, 7},
		{`{"b":5}`, -1, -1},
		{`{"a":1e300}`, 0, math.MinInt64},
		{`{"a":-9223372036854775808}`, 0, math.MinInt64},
	}
	for _, tc := range tests {
		if got := JSONGetLong([]byte(tc.data), "$.a", tc.dflt); got != tc.want {
			t.Errorf("JSONGetLong(%q, %d) = %d; want %d", tc.data, tc.dflt, got, tc.want)
		}
	}
}

func TestJSONGetStr(t *testing.T) {
	tests := []struct {
		tok  string
		want string
		ok   bool
	}{
		{`"Alice"`, "Alice", true},
		{`""`, "", true},
		{`"a\"b\\c"`, `a"b\c`, true},
		{`"\b\f\n\r\t"`, "\b\f\n\r\t", true},
		{`"\u0041"`, "A", true},
		{`"x\u00e9y"`, "x\xe9y", true},
		{`"\u00E9"`, "\xe9", true},
		{`"\u0000"`, "\x00", true},
		{`"\/"`, "", false},
		{`"\u0100"`, "", false},
		{`"\u20ac"`, "", false},
		{`"\u00"`, "", false},
		{`"\x"`, "", false},
		{`"é"`, "é", true},
		{`1`, "", false},
		{`true`, "", false},
		{`["a"]`, "", false},
	}
	for _, tc := range tests {
		data := `{"k":` + tc.tok + `}`
		got, ok := JSONGetStr([]byte(data), "$.k")
		if ok != tc.ok || string(got) != tc.want {
			t.Errorf("JSONGetStr(%s) = %q, %v; want %q, %v", data, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := JSONGetStr([]byte(`{"k":"a"}`), "$.x"); ok {
		t.Errorf("missing path found")
	}
}

func TestJSONUnhexnGarbage(t *testing.T) {
	// mg_unhexn on non-hex digits: 'z' is 35 (0x23), OR-ed.
	got, ok := JSONUnescape(nil, []byte(`\u00zz`))
	if !ok || len(got) != 1 || got[0] != 0x33 {
		t.Fatalf("got %q, %v", got, ok)
	}
}

// jsonDepth returns the nesting depth of valid JSON.
func jsonDepth(data []byte) int {
	dec := json.NewDecoder(bytes.NewReader(data))
	depth, max := 0, 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return max
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
				if depth > max {
					max = depth
				}
			} else {
				depth--
			}
		}
	}
}

var longExponent = regexp.MustCompile(`[eE][+-]?[0-9]{3,}`)

func trimJSONSpace(b []byte) []byte {
	return bytes.Trim(b, " \t\r\n")
}

func FuzzJSONGet(f *testing.F) {
	seeds := []struct{ data, path string }{
		{`{"a":1}`, "$.a"},
		{`{"a":[1,{"b":"x\"y"}]}`, "$.a[1].b"},
		{`{"a.b":1}`, "$.a.b"},
		{`[[1],[2,3]]`, "$[1][1]"},
		{`{"a":1,`, "$.a"},
		{nested(31, "1"), "$"},
		{`{"s":"\u00e9\/"}`, "$.s"},
		{`[1e3, -0.5, true, null]`, "$[3]"},
	}
	for _, s := range seeds {
		f.Add([]byte(s.data), s.path)
	}
	f.Fuzz(func(t *testing.T, data []byte, path string) {
		off, n, ok := JSONGet(data, path)
		if ok {
			if off < 0 || n < 1 || off+n > len(data) {
				t.Fatalf("span out of range: off=%d n=%d len=%d", off, n, len(data))
			}
			if c := data[off]; c == ' ' || c == '\t' || c == '\r' || c == '\n' {
				t.Fatalf("token starts with whitespace")
			}
			// The token found at a path is itself found at "$".
			tok := data[off : off+n]
			o2, n2, ok2 := JSONGet(tok, "$")
			if tok[0] != '"' && (!ok2 || o2 != 0 || n2 != n) {
				// Strings may hold raw control bytes that still scan;
				// other tokens must re-scan identically.
				t.Fatalf("token %q does not re-scan: %d %d %v", tok, o2, n2, ok2)
			}
		}
		if s, sok := JSONGetStr(data, path); sok && (!ok || len(s) > n) {
			t.Fatalf("string longer than its token")
		}
		JSONGetNum(data, path)
		JSONGetBool(data, path)
		JSONGetLong(data, path, 0)

		// Valid JSON (within the depth limit and mg_atod's exponent range)
		// is found whole at "$".
		if json.Valid(data) && jsonDepth(data) <= JSONMaxDepth && !longExponent.Match(data) &&
			!bytes.Contains(data, []byte{0}) {
			o, n, ok := JSONGet(data, "$")
			want := trimJSONSpace(data)
			if !ok || !bytes.Equal(data[o:o+n], want) {
				t.Fatalf("valid JSON %q: got %v %q", data, ok, data[o:o+n])
			}
		}
	})
}
