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

// native.h's PMG_WS_OP_* are core's opcodes: checked at compile time (an
// index out of range when they differ).
var _ = [1]struct{}{}[(C.PMG_WS_OP_TEXT-core.WSOpText)|(C.PMG_WS_OP_BINARY-core.WSOpBinary)|
	(C.PMG_WS_OP_PING-core.WSOpPing)|(C.PMG_WS_OP_PONG-core.WSOpPong)]

// pmg_ws_upgrade upgrades connection id with the request given as its head,
// body and spans (the HttpMsgObject layout, copied here: EvWSOpen gets its
// own message over the copy). extra is preformatted header lines. Returns
// 0, rcClosed, rcInternal, or rcInvalid when extra names a subprotocol the
// client did not offer (nothing queued).
//
//export pmg_ws_upgrade
func pmg_ws_upgrade(mid C.longlong, id C.ulonglong, head *C.char, hn C.longlong,
	body *C.char, bn C.longlong, spans *C.int32_t, nhdr C.int, extra *C.char, en C.longlong) C.int {
	return onConn(mid, id, func(c *core.Conn) C.int {
		msg := &core.HTTPMessage{
			Head: append([]byte(nil), cBytes(head, hn)...),
			Body: append([]byte{}, cBytes(body, bn)...),
		}
		n := int(nhdr)
		if n < 0 {
			n = 0
		}
		s := unsafe.Slice((*int32)(unsafe.Pointer(spans)), 2*(4+2*n))
		sp := func(i int) codec.Span { return codec.Span{Off: int(s[2*i]), Len: int(s[2*i+1])} }
		msg.Method, msg.URI, msg.Query, msg.Proto = sp(0), sp(1), sp(2), sp(3)
		msg.Headers = make([]codec.HeaderSpan, n)
		for i := 0; i < n; i++ {
			msg.Headers[i] = codec.HeaderSpan{Name: sp(4 + 2*i), Value: sp(5 + 2*i)}
		}
		if err := c.WSUpgrade(msg, cBytes(extra, en)); err == core.ErrWSProtocol {
			return rcInvalid
		}
		return 0
	})
}

// pmg_ws_send queues one frame (masked on client connections). Returns 0,
// rcClosed or rcInternal.
//
//export pmg_ws_send
func pmg_ws_send(mid C.longlong, id C.ulonglong, p *C.char, n C.longlong, op C.longlong) C.int {
	return onConn(mid, id, func(c *core.Conn) C.int {
		if c.WSSend(cBytes(p, n), int(op)) != nil {
			return rcClosed
		}
		return 0
	})
}
