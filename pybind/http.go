package pybind

/*
#include <stdlib.h>
*/
import "C"

import (
	"unsafe"

	"github.com/pymongoose-go/pymongoose-go/core"
)

// httpStr copies C bytes into a Go string.
func httpStr(p *C.char, n C.longlong) string {
	return string(goBytes(unsafe.Pointer(p), n))
}

//export pmg_http_serve
func pmg_http_serve(mid C.longlong, id C.ulonglong, dir C.int, head *C.char, headLen C.longlong,
	path *C.char, pathLen C.longlong, extra *C.char, extraLen C.longlong, mime *C.char,
	mimeLen C.longlong, p404 *C.char, p404Len C.longlong) (rc C.int) {
	defer guard(&rc, -2)
	_, c := connOf(mid, id)
	if c == nil {
		return -1
	}
	h := append([]byte(nil), goBytes(unsafe.Pointer(head), headLen)...)
	msg, ok := core.ParseMessageHead(h)
	if !ok {
		return -2
	}
	o := core.ServeOptions{
		ExtraHeaders: httpStr(extra, extraLen),
		MimeTypes:    httpStr(mime, mimeLen),
		Page404:      httpStr(p404, p404Len),
	}
	if dir != 0 {
		c.ServeDir(msg, httpStr(path, pathLen), o)
	} else {
		c.ServeFile(msg, httpStr(path, pathLen), o)
	}
	return 0
}

//export pmg_http_basic_auth
func pmg_http_basic_auth(mid C.longlong, id C.ulonglong, user *C.char, userLen C.longlong,
	pass *C.char, passLen C.longlong) (rc C.int) {
	defer guard(&rc, -2)
	_, c := connOf(mid, id)
	if c == nil {
		return -1
	}
	if c.HTTPBasicAuth(httpStr(user, userLen), httpStr(pass, passLen)) != nil {
		return -2
	}
	return 0
}

//export pmg_http_sse
func pmg_http_sse(mid C.longlong, id C.ulonglong, ev *C.char, evLen C.longlong, data *C.char,
	dataLen C.longlong) (rc C.int) {
	defer guard(&rc, -2)
	_, c := connOf(mid, id)
	if c == nil {
		return -1
	}
	c.HTTPSSE(goBytes(unsafe.Pointer(ev), evLen), goBytes(unsafe.Pointer(data), dataLen))
	return 0
}
