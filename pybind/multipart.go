package pybind

// Go side of multipart.c: http_parse_multipart over core/codec/multipart.go.

/*
#include "native.h"
*/
import "C"

import (
	"unsafe"

	"github.com/pymongoose-go/pymongoose-go/core/codec"
)

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
