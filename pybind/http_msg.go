package pybind

// Go side of http_msg.c: HttpMessage.header_var() and query_var() parse
// in core (fuzzed there), over the spans C found in the message.

/*
#include "native.h"
*/
import "C"

import "github.com/pymongoose-go/pymongoose-go/core/codec"

// pmg_header_var finds var name in the header value v (codec.HeaderVar): 1
// and its offset and length in v, 0 when absent or empty, -1 on an
// internal error.
//
//export pmg_header_var
func pmg_header_var(v *C.char, vn C.longlong, name *C.char, nn C.longlong, off, ln *C.longlong) (rc C.int) {
	defer guard(&rc, -1)
	s := codec.HeaderVar(cBytes(v, vn), cString(name, nn))
	if s.Len <= 0 {
		return 0
	}
	*off, *ln = C.longlong(s.Off), C.longlong(s.Len)
	return 1
}

// pmg_query_var form-decodes the value of the first pair called name
// (case-insensitive, codec.HTTPVar) of the query q into dst (capacity dn):
// 1 and its length in out, 0 when the pair is absent, its value empty or
// badly escaped, rcInvalid when the value does not fit dst, -1 on an
// internal error.
//
//export pmg_query_var
func pmg_query_var(q *C.char, qn C.longlong, name *C.char, nn C.longlong, dst *C.char, dn C.longlong,
	out *C.longlong) (rc C.int) {
	defer guard(&rc, -1)
	buf := cBytes(q, qn)
	s, e, ok := codec.HTTPVar(buf, cString(name, nn))
	if !ok {
		return 0
	}
	n, err := codec.FormDecode(cOut(dst, int(dn)), buf[s:e])
	switch {
	case err == codec.ErrFormRoom:
		return rcInvalid
	case err != nil || n == 0:
		return 0
	}
	*out = C.longlong(n)
	return 1
}
