package pybind

// Go side of json.c: the json_* functions over core/codec/json.go. Each export
// recovers from panics and reports them with funcInternal.

/*
#include "native.h"
*/
import "C"

import (
	"unsafe"

	"github.com/pymongoose-go/pymongoose-go/core/codec"
)

// Results of the exports of json.go and multipart.go.
const (
	funcFound    = 1
	funcNotFound = 0
	funcInternal = -1
)

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
