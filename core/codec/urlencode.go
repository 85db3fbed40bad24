package codec

import "strings"

// URL encoding as url_encode() exposes it (docs/api.md §16.6, Mongoose's
// mg_url_encode without its output-size defect).

const lowerHex = "0123456789abcdef"

// AppendURLEncode appends the percent-encoding of src to dst and returns the
// extended slice. ASCII letters, digits and '-', '.', '_', '~' are kept;
// every other byte becomes %xx with lower-case hex digits. The output is at
// most 3*len(src) bytes long.
func AppendURLEncode(dst, src []byte) []byte {
	for _, c := range src {
		if urlUnreserved(c) {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', lowerHex[c>>4], lowerHex[c&15])
		}
	}
	return dst
}

// URLEncodedLen returns the length of the percent-encoding of src.
func URLEncodedLen(src []byte) int {
	n := 0
	for _, c := range src {
		if urlUnreserved(c) {
			n++
		} else {
			n += 3
		}
	}
	return n
}

func urlUnreserved(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// PathDecode percent-decodes a URI path ('+' stays); a bad escape or a
// NUL byte fails.
func PathDecode(s string) (string, bool) {
	if !strings.ContainsAny(s, "%\x00") {
		return s, true
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch == '%' {
			if i+2 >= len(s) {
				return "", false
			}
			hi, lo := unhex(s[i+1]), unhex(s[i+2])
			if hi < 0 || lo < 0 {
				return "", false
			}
			ch = byte(hi<<4 | lo)
			i += 2
		}
		if ch == 0 {
			return "", false
		}
		b = append(b, ch)
	}
	return string(b), true
}
