package pybind

// Go side of url.c: URL parts, url_encode, http_var and match. Each export
// recovers from panics and then returns a negative result.

/*
#include "native.h"
*/
import "C"

import (
	"unsafe"

	"github.com/pymongoose-go/pymongoose-go/core/codec"
)

// pmg_match writes up to codec.MatchMaxCaps (start, end) pairs into caps
// (capacity 2*MatchMaxCaps) and their number into ncaps. 1: match, 0: no
// match, -1: internal error.
//
//export pmg_match
func pmg_match(s *C.char, sn C.longlong, p *C.char, pn C.longlong, caps *C.longlong, ncaps *C.int) (rc C.int) {
	defer guard(&rc, -1)
	ok, cs := codec.Match(cString(s, sn), cString(p, pn))
	if !ok {
		return 0
	}
	out := unsafe.Slice((*C.longlong)(unsafe.Pointer(caps)), 2*codec.MatchMaxCaps)
	for i, c := range cs {
		out[2*i], out[2*i+1] = C.longlong(c[0]), C.longlong(c[1])
	}
	*ncaps = C.int(len(cs))
	return 1
}

// pmg_url_part locates a part of url (PMG_URL_*): 1 and its offsets, 0 when the URI is
// absent (url_uri() gives "/"), -1 on internal error.
//
//export pmg_url_part
func pmg_url_part(url *C.char, n C.longlong, which C.int, start, end *C.longlong) (rc C.int) {
	defer guard(&rc, -1)
	u := cString(url, n)
	var s, e int
	switch which {
	case C.PMG_URL_HOST:
		s, e = codec.URLHost(u)
	case C.PMG_URL_USER:
		s, e = codec.URLUser(u)
	case C.PMG_URL_PASS:
		s, e = codec.URLPass(u)
	case C.PMG_URL_URI:
		if s, e = codec.URLURI(u); s < 0 {
			return 0
		}
	default:
		return -1
	}
	*start, *end = C.longlong(s), C.longlong(e)
	return 1
}

//export pmg_url_port
func pmg_url_port(url *C.char, n C.longlong) (rc C.int) {
	defer guard(&rc, -1)
	return C.int(codec.URLPort(cString(url, n)))
}

//export pmg_url_is_ssl
func pmg_url_is_ssl(url *C.char, n C.longlong) (rc C.int) {
	defer guard(&rc, -1)
	if codec.URLIsSSL(cString(url, n)) {
		return 1
	}
	return 0
}

// pmg_http_var: 1 and the raw value's offsets, 0 when absent, -1 on
// internal error.
//
//export pmg_http_var
func pmg_http_var(buf *C.char, n C.longlong, name *C.char, nn C.longlong, start, end *C.longlong) (rc C.int) {
	defer guard(&rc, -1)
	s, e, ok := codec.HTTPVar(cBytes(buf, n), cString(name, nn))
	if !ok {
		return 0
	}
	*start, *end = C.longlong(s), C.longlong(e)
	return 1
}

// pmg_url_encode writes the percent-encoding of src into dst (room for
// dcap bytes, at least 3*sn) and returns its length, or -1.
//
//export pmg_url_encode
func pmg_url_encode(src *C.char, sn C.longlong, dst *C.char, dcap C.longlong) (rc C.longlong) {
	defer guard(&rc, -1)
	if dcap < 3*sn {
		return -1
	}
	if sn <= 0 {
		return 0
	}
	d := cBytes(dst, dcap)[:0]
	res := codec.AppendURLEncode(d, cBytes(src, sn))
	if unsafe.SliceData(res) != unsafe.SliceData(d) {
		return -1 // cannot happen: the output never outgrows dst
	}
	return C.longlong(len(res))
}
