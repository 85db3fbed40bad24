package pybind

// Go side of the module-level functions of pymongoose._mongoose (json_*,
// url_encode, http_parse_multipart); the CPython side is funcs.c.
//
// Binary data crosses as (pointer, length) pairs that point into Python
// bytes/str buffers owned by the caller for the duration of the call; it is
// only read here, never retained. Results go back as offsets and lengths
// into the caller's buffer, or are written into a C buffer the caller
// allocated. Every export recovers from panics and reports them with
// a negative result.

/*
#include "native.h"
*/
import "C"

import (
	"unsafe"

	"github.com/pymongoose-go/pymongoose-go/core/codec"
)

// Results of the exports below.
const (
	funcFound    = 1
	funcNotFound = 0
	funcInternal = -1
)

// cBytes views C memory as a []byte without copying (nil when empty).
func cBytes(p *C.char, n C.longlong) []byte {
	if p == nil || n <= 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))
}

// cString views C memory as a string without copying; it must not outlive
// the call.
func cString(p *C.char, n C.longlong) string {
	if p == nil || n <= 0 {
		return ""
	}
	return unsafe.String((*byte)(unsafe.Pointer(p)), int(n))
}

//export pmg_json_get
func pmg_json_get(data *C.char, n C.longlong, path *C.char, pn C.longlong, off, ln *C.longlong) (rc C.int) {
	defer guard(&rc, funcInternal)
	o, l, ok := codec.JSONGet(cBytes(data, n), cString(path, pn))
	if !ok {
		return funcNotFound
	}
	*off, *ln = C.longlong(o), C.longlong(l)
	return funcFound
}

//export pmg_json_get_num
func pmg_json_get_num(data *C.char, n C.longlong, path *C.char, pn C.longlong, out *C.double) (rc C.int) {
	defer guard(&rc, funcInternal)
	v, ok := codec.JSONGetNum(cBytes(data, n), cString(path, pn))
	if !ok {
		return funcNotFound
	}
	*out = C.double(v)
	return funcFound
}

//export pmg_json_get_bool
func pmg_json_get_bool(data *C.char, n C.longlong, path *C.char, pn C.longlong, out *C.int) (rc C.int) {
	defer guard(&rc, funcInternal)
	v, ok := codec.JSONGetBool(cBytes(data, n), cString(path, pn))
	if !ok {
		return funcNotFound
	}
	*out = 0
	if v {
		*out = 1
	}
	return funcFound
}

//export pmg_json_get_long
func pmg_json_get_long(data *C.char, n C.longlong, path *C.char, pn C.longlong, dflt C.longlong, out *C.longlong) (rc C.int) {
	defer guard(&rc, funcInternal)
	*out = C.longlong(codec.JSONGetLong(cBytes(data, n), cString(path, pn), int64(dflt)))
	return funcFound
}

// pmg_json_get_str locates the content of the string token at path (the
// span between the quotes, still escaped). funcNotFound when the token is
// missing or not a string.
//
//export pmg_json_get_str
func pmg_json_get_str(data *C.char, n C.longlong, path *C.char, pn C.longlong, off, ln *C.longlong) (rc C.int) {
	defer guard(&rc, funcInternal)
	buf := cBytes(data, n)
	o, l, ok := codec.JSONGet(buf, cString(path, pn))
	if !ok || l < 2 || buf[o] != '"' {
		return funcNotFound
	}
	*off, *ln = C.longlong(o+1), C.longlong(l-2)
	return funcFound
}

// pmg_json_unescape writes the unescaped form of the string content src
// into dst, which has room for at least sn bytes (the output is never
// longer than the input). funcNotFound for an unsupported escape.
//
//export pmg_json_unescape
func pmg_json_unescape(src *C.char, sn C.longlong, dst *C.char, dcap C.longlong, out *C.longlong) (rc C.int) {
	defer guard(&rc, funcInternal)
	if dcap < sn {
		return funcInternal
	}
	d := cBytes(dst, dcap)[:0]
	res, ok := codec.JSONUnescape(d, cBytes(src, sn))
	if !ok {
		return funcNotFound
	}
	if len(res) > 0 && unsafe.SliceData(res) != unsafe.SliceData(d) {
		return funcInternal // cannot happen: the output never outgrows dst
	}
	*out = C.longlong(len(res))
	return funcFound
}

// pmg_url_encode writes the percent-encoding of src into dst (room for
// dcap bytes, at least 3*sn) and returns its length, or -1.
//
//export pmg_url_encode
func pmg_url_encode(src *C.char, sn C.longlong, dst *C.char, dcap C.longlong) (rc C.longlong) {
	defer guard(&rc, funcInternal)
	if dcap < 3*sn {
		return funcInternal
	}
	if sn <= 0 {
		return 0
	}
	d := cBytes(dst, dcap)[:0]
	res := codec.AppendURLEncode(d, cBytes(src, sn))
	if unsafe.SliceData(res) != unsafe.SliceData(d) {
		return funcInternal // cannot happen: the output never outgrows dst
	}
	return C.longlong(len(res))
}

// pmg_parse_multipart parses the part at offset of body. On success out
// receives seven numbers: next offset, then offset and length of the name,
// the filename and the part body, all relative to body.
//
//export pmg_parse_multipart
func pmg_parse_multipart(body *C.char, n C.longlong, offset C.longlong, out *C.longlong) (rc C.int) {
	defer guard(&rc, funcInternal)
	next, p, ok := codec.ParseMultipart(cBytes(body, n), int(offset))
	if !ok {
		return funcNotFound
	}
	o := unsafe.Slice(out, 7)
	o[0] = C.longlong(next)
	o[1], o[2] = C.longlong(p.Name.Off), C.longlong(p.Name.Len)
	o[3], o[4] = C.longlong(p.Filename.Off), C.longlong(p.Filename.Len)
	o[5], o[6] = C.longlong(p.Body.Off), C.longlong(p.Body.Len)
	return funcFound
}
