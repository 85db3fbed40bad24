package pybind

// Go side of the HTTP Connection methods of http.c: serve_dir/serve_file,
// http_sse, http_basic_auth. They return 0, rcClosed or rcInternal.

/*
#include "native.h"
*/
import "C"

import "github.com/pymongoose-go/pymongoose-go/core"

//export pmg_http_serve
func pmg_http_serve(mid C.longlong, id C.ulonglong, dir C.int, head *C.char, headLen C.longlong,
	path *C.char, pathLen C.longlong, extra *C.char, extraLen C.longlong, mime *C.char,
	mimeLen C.longlong, p404 *C.char, p404Len C.longlong) C.int {
	return onConn(mid, id, func(c *core.Conn) C.int {
		h := append([]byte(nil), cBytes(head, headLen)...)
		msg, ok := core.ParseMessageHead(h)
		if !ok {
			return rcInternal
		}
		o := core.ServeOptions{
			ExtraHeaders: cCopy(extra, extraLen),
			MimeTypes:    cCopy(mime, mimeLen),
			Page404:      cCopy(p404, p404Len),
		}
		if dir != 0 {
			c.ServeDir(msg, cCopy(path, pathLen), o)
		} else {
			c.ServeFile(msg, cCopy(path, pathLen), o)
		}
		return 0
	})
}

//export pmg_http_basic_auth
func pmg_http_basic_auth(mid C.longlong, id C.ulonglong, user *C.char, userLen C.longlong,
	pass *C.char, passLen C.longlong) C.int {
	return onConn(mid, id, func(c *core.Conn) C.int {
		if c.HTTPBasicAuth(cCopy(user, userLen), cCopy(pass, passLen)) != nil {
			return rcInternal
		}
		return 0
	})
}

//export pmg_http_sse
func pmg_http_sse(mid C.longlong, id C.ulonglong, ev *C.char, evLen C.longlong, data *C.char,
	dataLen C.longlong) C.int {
	return onConn(mid, id, func(c *core.Conn) C.int {
		c.HTTPSSE(cBytes(ev, evLen), cBytes(data, dataLen))
		return 0
	})
}
