package codec

import "errors"

// Exported forms of the parsers behind HttpMessage.header_var() and
// query_var(), for the binding (pybind/http_msg.go).

// HeaderVar is mg_http_get_header_var on the header value v: the value of
// var name (see mpHeaderVar); an empty span when absent or empty.
func HeaderVar(v []byte, name string) Span {
	return mpHeaderVar(v, name, 0)
}

// Errors of FormDecode.
var (
	ErrFormEscape = errors.New("bad percent escape")
	ErrFormRoom   = errors.New("decoded value does not fit")
)

// FormDecode writes the form decoding of src into dst ('+' is a space,
// %XX the byte XX: mg_url_decode with is_form) and returns its length. It
// stops with ErrFormEscape at a bad or truncated escape and with
// ErrFormRoom when the next byte has no room in dst, whichever comes
// first.
func FormDecode(dst, src []byte) (int, error) {
	o := 0
	for i := 0; i < len(src); i++ {
		if o >= len(dst) {
			return o, ErrFormRoom
		}
		ch := src[i]
		switch ch {
		case '%':
			if i+2 >= len(src) {
				return o, ErrFormEscape
			}
			hi, lo := unhex(src[i+1]), unhex(src[i+2])
			if hi < 0 || lo < 0 {
				return o, ErrFormEscape
			}
			ch = byte(hi<<4 | lo)
			i += 2
		case '+':
			ch = ' '
		}
		dst[o] = ch
		o++
	}
	return o, nil
}
