package codec

import "encoding/base64"

// Small string helpers of the module functions http_var, base64_encode and
// base64_decode (docs/api.md §19.6), with Mongoose's semantics.

// HTTPVar finds the first name=value pair of buf (pairs separated by '&',
// the name compared case-insensitively) and returns the [start, end)
// offsets of its raw value, still percent-encoded. A pair without '='
// ("a&b") has an empty value. ok is false when no pair has that name.
// Empty pairs ("a=1&&b=2") are skipped. This is mg_http_var.
func HTTPVar(buf []byte, name string) (start, end int, ok bool) {
	pos := 0
	for pos < len(buf) {
		e := pos
		for e < len(buf) && buf[e] != '&' {
			e++
		}
		if e > pos {
			k := pos
			for k < e && buf[k] != '=' {
				k++
			}
			if k-pos == len(name) && EqualFold(buf[pos:k], name) {
				v := k
				if k < e {
					v = k + 1
				}
				return v, e, true
			}
		}
		pos = e + 1
	}
	return 0, 0, false
}

// Base64Encode is the standard alphabet with '=' padding ("" for empty
// input).
func Base64Encode(src []byte) string {
	return base64.StdEncoding.EncodeToString(src)
}

// base64Value maps a Base64 character to its value, '=' to 64, anything
// else to -1.
func base64Value(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '+':
		return 62
	case c == '/':
		return 63
	case c == '=':
		return 64
	}
	return -1
}

// Base64Decode is mg_base64_decode: complete groups of four characters are
// decoded (a trailing partial group is ignored); '=' may stand in the third
// or fourth place of a group and ends that group's output early (a '=' in
// the third place yields one byte whatever the fourth holds). Any other
// character outside the standard alphabet, or '=' in the first two places,
// makes the whole result empty.
func Base64Decode(src []byte) []byte {
	out := make([]byte, 0, len(src)/4*3)
	for i := 0; i+3 < len(src); i += 4 {
		a, b := base64Value(src[i]), base64Value(src[i+1])
		c, d := base64Value(src[i+2]), base64Value(src[i+3])
		if a < 0 || a == 64 || b < 0 || b == 64 || c < 0 || d < 0 {
			return []byte{}
		}
		out = append(out, byte(a<<2|b>>4))
		if src[i+2] != '=' {
			out = append(out, byte(b<<4|c>>2))
			if src[i+3] != '=' {
				out = append(out, byte(c<<6|d))
			}
		}
	}
	return out
}
