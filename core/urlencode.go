package core

// URL encoding as url_encode() exposes it (API.md §16.6, Mongoose's
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
