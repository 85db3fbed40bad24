package pybind

// Go side of the WebSocket Connection methods (ws.c): ws_upgrade, ws_send.

/*
#include "native.h"
*/
import "C"

import (
	"unsafe"

	"github.com/pymongoose-go/pymongoose-go/core"
	"github.com/pymongoose-go/pymongoose-go/core/codec"
)

// pmg_ws_upgrade upgrades connection id with the request given as its head,
// body and spans (the HttpMsgObject layout, copied here: EvWSOpen gets its
// own message over the copy). extra is preformatted header lines. Returns
// 0, -1 for a closed connection, -2 on an internal error, -3 when extra
// names a subprotocol the client did not offer (nothing queued).
//
//export pmg_ws_upgrade
func pmg_ws_upgrade(mid C.longlong, id C.ulonglong, head *C.char, hn C.longlong,
	body *C.char, bn C.longlong, spans *C.int32_t, nhdr C.int, extra *C.char, en C.longlong) (rc C.int) {
	defer guard(&rc, -2)
	_, c := connOf(mid, id)
	if c == nil {
		return -1
	}
	msg := &core.HTTPMessage{
		Head: append([]byte(nil), goBytes(unsafe.Pointer(head), hn)...),
		Body: append([]byte{}, goBytes(unsafe.Pointer(body), bn)...),
	}
	n := int(nhdr)
	if n < 0 {
		n = 0
	}
	if n > C.PMG_MAX_HEADERS {
		n = C.PMG_MAX_HEADERS
	}
	s := unsafe.Slice((*int32)(unsafe.Pointer(spans)), 2*(4+2*n))
	sp := func(i int) codec.Span { return codec.Span{Off: int(s[2*i]), Len: int(s[2*i+1])} }
	msg.Method, msg.URI, msg.Query, msg.Proto = sp(0), sp(1), sp(2), sp(3)
	msg.Headers = make([]codec.HeaderSpan, n)
	for i := 0; i < n; i++ {
		msg.Headers[i] = codec.HeaderSpan{Name: sp(4 + 2*i), Value: sp(5 + 2*i)}
	}
	if err := c.WSUpgrade(msg, goBytes(unsafe.Pointer(extra), en)); err == core.ErrWSProtocol {
		return -3
	}
	return 0
}

// pmg_ws_send queues one frame (masked on client connections). Returns 0,
// -1 for a closed connection, -2 on an internal error.
//
//export pmg_ws_send
func pmg_ws_send(mid C.longlong, id C.ulonglong, p *C.char, n C.longlong, op C.longlong) (rc C.int) {
	defer guard(&rc, -2)
	_, c := connOf(mid, id)
	if c == nil {
		return -1
	}
	if c.WSSend(goBytes(unsafe.Pointer(p), n), int(op)) != nil {
		return -1
	}
	return 0
}
