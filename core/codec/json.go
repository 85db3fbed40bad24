package codec

import (
	"math"
	"strconv"
)

// JSON lookups by path, reproducing Mongoose 7.19's mg_json_get family as
// pymongoose 0.1.4 exposes it (docs/api.md §16.5).
//
// The scanner walks the document once and stops as soon as the target
// token is complete: malformed text after the target is never seen, while
// malformed text before it makes the lookup fail. Keys are compared by
// bytes as written (escapes are not interpreted), which is what makes a
// key containing a dot match the dotted path itself ({"a.b":1} with
// $.a.b).

// JSONMaxDepth is Mongoose's MG_JSON_MAX_DEPTH: a document nested deeper
// than this fails as soon as the scanner reaches the excess level.
const JSONMaxDepth = 30

// Result codes of jsonScan (Mongoose's MG_JSON_*).
const (
	jsonInvalid  = -1
	jsonTooDeep  = -2
	jsonNotFound = -3
)

// JSONGet finds the token at path in data and returns its span: data[off:
// off+n] is the raw token exactly as written (strings with their quotes,
// numbers with their spelling, objects and arrays verbatim). ok is false
// when the path is not found, the document is malformed before the target,
// or it nests deeper than JSONMaxDepth.
//
// path must start with '$'. As in C, path ends at its first NUL byte.
func JSONGet(data []byte, path string) (off, n int, ok bool) {
	off, n = jsonScan(data, path)
	if off < 0 {
		return 0, 0, false
	}
	return off, n, true
}

// jsonPathAt returns path[i] with C string semantics: NUL past the end.
func jsonPathAt(path string, i int) byte {
	if i < 0 || i >= len(path) {
		return 0
	}
	return path[i]
}

// jsonPassString returns the index of the closing quote of a string whose
// content starts at s[0], or jsonInvalid (mg_pass_string).
func jsonPassString(s []byte) int {
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && jsonIsEscapedRaw(s[i+1]):
			i++
		case s[i] == 0:
			return jsonInvalid
		case s[i] == '"':
			return i
		}
	}
	return jsonInvalid
}

// jsonIsEscapedRaw reproduces json_esc(c, 1) != 0: the characters a
// backslash is taken to protect while skipping over a string. Only '"' and
// '\\' matter for finding the end of the string.
func jsonIsEscapedRaw(c byte) bool {
	switch c {
	case '\b', '\f', '\n', '\r', '\t', '\\', '"':
		return true
	}
	return false
}

// jsonNum locates a number the way mg_atod delimits it, starting at s[0]:
// optional sign, digits, optional '.' and digits, optional exponent ('e' or
// 'E', then '-' and/or '+', then digits while the accumulated exponent is
// below 308). It returns the parts and the length consumed.
func jsonNum(s []byte) (neg bool, intDigits, fracDigits []byte, exp, n int) {
	i := 0
	if i < len(s) && s[i] == '-' {
		neg = true
		i++
	} else if i < len(s) && s[i] == '+' {
		i++
	}
	st := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	intDigits = s[st:i]
	if i < len(s) && s[i] == '.' {
		i++
		fs := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		fracDigits = s[fs:i]
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		minus := false
		if i < len(s) && s[i] == '-' {
			minus = true
			i++
		}
		if i < len(s) && s[i] == '+' {
			i++
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' && exp < 308 {
			exp = exp*10 + int(s[i]-'0')
			i++
		}
		if minus {
			exp = -exp
		}
	}
	return neg, intDigits, fracDigits, exp, i
}

// jsonAtod returns the value of the number at the start of s as mg_atod
// delimits it. The digits are converted with a correctly rounded parse
// (docs/api.md §16.5 allows this instead of Mongoose's simple decimal
// accumulation, which can differ in the last bit).
func jsonAtod(s []byte) float64 {
	neg, intDigits, fracDigits, exp, _ := jsonNum(s)
	buf := make([]byte, 0, len(intDigits)+len(fracDigits)+16)
	if neg {
		buf = append(buf, '-')
	}
	if len(intDigits) == 0 {
		buf = append(buf, '0')
	}
	buf = append(buf, intDigits...)
	if len(fracDigits) > 0 {
		buf = append(buf, '.')
		buf = append(buf, fracDigits...)
	}
	buf = append(buf, 'e')
	buf = strconv.AppendInt(buf, int64(exp), 10)
	// The text is well formed by construction; the only possible error is
	// a range error, for which v already holds ±Inf.
	v, _ := strconv.ParseFloat(string(buf), 64)
	return v
}

// Scanner states of mg_json_get.
const (
	jsonSValue = iota
	jsonSKey
	jsonSColon
	jsonSCommaOrEOO
)

// jsonScanner holds mg_json_get's state.
type jsonScanner struct {
	s       []byte
	path    string
	nesting [JSONMaxDepth]byte
	i       int   // current offset in s
	j       int   // start of the current value at the expected depth
	depth   int   // current nesting level
	ed      int   // expected depth
	pos     int   // position in path
	ci, ei  int32 // current and expected array index (C int arithmetic)
}

func (sc *jsonScanner) p(k int) byte { return jsonPathAt(sc.path, k) }

// checkRet is MG_CHECKRET: is the target complete at offset i?
func (sc *jsonScanner) checkRet() bool {
	return sc.depth == sc.ed && sc.p(sc.pos) == 0 && sc.ci == sc.ei
}

// eoo is MG_EOO: close the innermost object/array with c. It returns a
// negative code when the scan must stop with a failure, 1 when the target
// is complete, 0 to go on.
func (sc *jsonScanner) eoo(c byte) int {
	if sc.depth == sc.ed && sc.ci != sc.ei {
		return jsonNotFound
	}
	if sc.depth == 0 || c != sc.nesting[sc.depth-1]+2 {
		return jsonInvalid
	}
	sc.depth--
	if sc.checkRet() {
		return 1
	}
	return 0
}

// jsonScan is mg_json_get: it returns the offset and length of the token at
// path, or a negative code and 0.
func jsonScan(s []byte, path string) (int, int) {
	for k := 0; k < len(path); k++ {
		if path[k] == 0 {
			path = path[:k]
			break
		}
	}
	if len(path) == 0 || path[0] != '$' {
		return jsonInvalid, 0
	}
	sc := jsonScanner{s: s, path: path, pos: 1, ci: -1, ei: -1}
	found := func() (int, int) { return sc.j, sc.i - sc.j + 1 }
	expecting := jsonSValue
	ln := len(s)
	for ; sc.i < ln; sc.i++ {
		i := sc.i
		c := s[i]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			continue
		}
		switch expecting {
		case jsonSValue:
			if sc.depth == sc.ed {
				sc.j = i
			}
			switch {
			case c == '{':
				if sc.depth >= len(sc.nesting) {
					return jsonTooDeep, 0
				}
				if sc.depth == sc.ed && sc.p(sc.pos) == '.' && sc.ci == sc.ei {
					sc.ed++
					sc.pos++
					sc.ci, sc.ei = -1, -1
				}
				sc.nesting[sc.depth] = c
				sc.depth++
				expecting = jsonSKey
				continue
			case c == '[':
				if sc.depth >= len(sc.nesting) {
					return jsonTooDeep, 0
				}
				if sc.depth == sc.ed && sc.p(sc.pos) == '[' && sc.ei == sc.ci {
					sc.ed++
					sc.pos++
					sc.ci = 0
					// Any character up to ']' counts as a digit, as in C
					// ('-' and '*' give indexes that never match).
					for sc.ei = 0; sc.p(sc.pos) != ']' && sc.p(sc.pos) != 0; sc.pos++ {
						sc.ei = sc.ei*10 + int32(sc.p(sc.pos)) - '0'
					}
					if sc.p(sc.pos) != 0 {
						sc.pos++
					}
				}
				sc.nesting[sc.depth] = c
				sc.depth++
				continue
			case c == ']' && sc.depth > 0: // empty array (or trailing comma)
				if r := sc.eoo(c); r < 0 {
					return r, 0
				} else if r == 1 {
					return found()
				}
			case c == 't' && i+3 < ln && string(s[i:i+4]) == "true":
				sc.i += 3
			case c == 'n' && i+3 < ln && string(s[i:i+4]) == "null":
				sc.i += 3
			case c == 'f' && i+4 < ln && string(s[i:i+5]) == "false":
				sc.i += 4
			case c == '-' || (c >= '0' && c <= '9'):
				_, _, _, _, n := jsonNum(s[i:])
				sc.i += n - 1
			case c == '"':
				n := jsonPassString(s[i+1:])
				if n < 0 {
					return n, 0
				}
				sc.i += n + 1
			default:
				return jsonInvalid, 0
			}
			if sc.checkRet() {
				return found()
			}
			if sc.depth == sc.ed && sc.ei >= 0 {
				sc.ci++
			}
			expecting = jsonSCommaOrEOO

		case jsonSKey:
			switch c {
			case '"':
				n := jsonPassString(s[i+1:])
				if n < 0 {
					return n, 0
				}
				if i+1+n >= ln || sc.depth < sc.ed {
					return jsonNotFound, 0
				}
				if sc.depth == sc.ed && sc.p(sc.pos-1) != '.' {
					return jsonNotFound, 0
				}
				if sc.depth == sc.ed && jsonKeyMatch(s[i+1:i+1+n], path, sc.pos) {
					sc.pos += n
				}
				sc.i += n + 1
				expecting = jsonSColon
			case '}': // empty object
				if r := sc.eoo(c); r < 0 {
					return r, 0
				} else if r == 1 {
					return found()
				}
				expecting = jsonSCommaOrEOO
				if sc.depth == sc.ed && sc.ei >= 0 {
					sc.ci++
				}
			default:
				return jsonInvalid, 0
			}

		case jsonSColon:
			if c != ':' {
				return jsonInvalid, 0
			}
			expecting = jsonSValue

		case jsonSCommaOrEOO:
			switch {
			case sc.depth <= 0:
				return jsonInvalid, 0
			case c == ',':
				if sc.nesting[sc.depth-1] == '{' {
					expecting = jsonSKey
				} else {
					expecting = jsonSValue
				}
			case c == ']' || c == '}':
				if sc.depth == sc.ed && c == '}' && sc.p(sc.pos-1) == '.' {
					return jsonNotFound, 0
				}
				if sc.depth == sc.ed && c == ']' && sc.p(sc.pos-1) == ',' {
					return jsonNotFound, 0
				}
				if r := sc.eoo(c); r < 0 {
					return r, 0
				} else if r == 1 {
					return found()
				}
				if sc.depth == sc.ed && sc.ei >= 0 {
					sc.ci++
				}
			default:
				return jsonInvalid, 0
			}
		}
	}
	return jsonNotFound, 0
}

// jsonKeyMatch is the strncmp test of mg_json_get: the path at pos starts
// with key and the key is followed by the end of the path, '.' or '['.
func jsonKeyMatch(key []byte, path string, pos int) bool {
	if pos > len(path) || len(path)-pos < len(key) || string(key) != path[pos:pos+len(key)] {
		return false
	}
	next := jsonPathAt(path, pos+len(key))
	return next == 0 || next == '.' || next == '['
}

// JSONGetNum returns the numeric value of the token at path when it starts
// with '-' or a digit (a leading '+' is not a number).
func JSONGetNum(data []byte, path string) (float64, bool) {
	off, n, ok := JSONGet(data, path)
	if !ok || !(data[off] == '-' || (data[off] >= '0' && data[off] <= '9')) {
		return 0, false
	}
	return jsonAtod(data[off : off+n]), true
}

// JSONGetBool returns true for a `true` token and false for `false`; ok is
// false for anything else. As in Mongoose only the first byte is looked at,
// which is unambiguous because the scanner accepts no other word starting
// with 't' or 'f'.
func JSONGetBool(data []byte, path string) (v, ok bool) {
	off, _, found := JSONGet(data, path)
	if !found || (data[off] != 't' && data[off] != 'f') {
		return false, false
	}
	return data[off] == 't', true
}

// JSONGetLong returns the number at path truncated toward zero (3.9 → 3,
// -3.9 → -3, 1e3 → 1000), or dflt when the token is not a number. Values
// outside the int64 range (and NaN, which cannot occur) give math.MinInt64,
// what the C cast produces on x86-64.
func JSONGetLong(data []byte, path string, dflt int64) int64 {
	v, ok := JSONGetNum(data, path)
	if !ok {
		return dflt
	}
	return jsonTruncate(v)
}

func jsonTruncate(v float64) int64 {
	if math.IsNaN(v) || v >= 9223372036854775808.0 || v < -9223372036854775808.0 {
		return math.MinInt64
	}
	return int64(v)
}

// JSONGetStr returns the unescaped content of the string token at path.
// ok is false when the token is not a string or contains an unsupported
// escape (see JSONUnescape).
func JSONGetStr(data []byte, path string) ([]byte, bool) {
	off, n, ok := JSONGet(data, path)
	if !ok || n < 2 || data[off] != '"' {
		return nil, false
	}
	return JSONUnescape(make([]byte, 0, n-2), data[off+1:off+n-1])
}

// JSONUnescape appends the unescaped form of the string content src to dst
// (mg_json_unescape). Supported: \" \\ \b \f \n \r \t, and \u00XX, which
// yields the single byte 0xXX. Any other escape (\/, \u above 0x00FF, a
// truncated \u) makes the whole result fail. The output is never longer
// than src.
func JSONUnescape(dst, src []byte) ([]byte, bool) {
	for i := 0; i < len(src); i++ {
		switch {
		case src[i] == '\\' && i+5 < len(src) && src[i+1] == 'u':
			if src[i+2] != '0' || src[i+3] != '0' {
				return dst, false
			}
			dst = append(dst, byte(jsonUnhexn(src[i+4:i+6])))
			i += 5
		case src[i] == '\\' && i+1 < len(src):
			c := jsonUnescapeChar(src[i+1])
			if c == 0 {
				return dst, false
			}
			dst = append(dst, c)
			i++
		default:
			dst = append(dst, src[i])
		}
	}
	return dst, true
}

// jsonUnescapeChar is json_esc(c, 0): the byte a backslash escape stands
// for, or 0 when the escape is unsupported.
func jsonUnescapeChar(c byte) byte {
	switch c {
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case '\\':
		return '\\'
	case '"':
		return '"'
	}
	return 0
}

// jsonUnhexn is Mongoose's mg_unhexn, garbage-in-garbage-out included: a
// non-hex digit contributes c-'W' (negative below 'W'), OR-ed in.
func jsonUnhexn(s []byte) uint64 {
	var v uint64
	for _, c := range s {
		var d int
		switch {
		case c >= '0' && c <= '9':
			d = int(c - '0')
		case c >= 'A' && c <= 'F':
			d = int(c - '7')
		default:
			d = int(c) - 'W'
		}
		v <<= 4
		v |= uint64(int64(d))
	}
	return v
}
