package pybind

// Go side of the name-resolution and SNTP Connection methods (net.c):
// resolve, resolve_cancel, sntp_request.

/*
#include "native.h"
*/
import "C"

import "github.com/pymongoose-go/pymongoose-go/core"

// pmg_net_resolve re-targets connection id at the host and port of url
// (Connection.resolve). Events may fire before it returns. Returns 0, rcClosed
// or rcInternal.
//
//export pmg_net_resolve
func pmg_net_resolve(mid C.longlong, id C.ulonglong, p *C.char, n C.longlong) C.int {
	return onConn(mid, id, func(c *core.Conn) C.int {
		c.Resolve(string(cBytes(p, n)))
		return 0
	})
}

// pmg_net_resolve_cancel cancels the pending lookup of connection id
// (Connection.resolve_cancel). Returns 0, rcClosed or rcInternal.
//
//export pmg_net_resolve_cancel
func pmg_net_resolve_cancel(mid C.longlong, id C.ulonglong) C.int {
	return onConn(mid, id, func(c *core.Conn) C.int {
		c.ResolveCancel()
		return 0
	})
}

// pmg_net_sntp_request sends an SNTP request on connection id
// (Connection.sntp_request); on UDP MG_EV_WRITE fires before it returns.
// Returns 0, rcClosed or rcInternal.
//
//export pmg_net_sntp_request
func pmg_net_sntp_request(mid C.longlong, id C.ulonglong) C.int {
	return onConn(mid, id, func(c *core.Conn) C.int {
		if c.SNTPRequest() != nil {
			return rcClosed
		}
		return 0
	})
}
