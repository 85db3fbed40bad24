package pybind

// Go side of the name-resolution and SNTP Connection methods (net.c):
// resolve, resolve_cancel, sntp_request.

/*
#include "native.h"
*/
import "C"

import "unsafe"

// pmg_net_resolve re-targets connection id at the host and port of url
// (Connection.resolve). Events may fire before it returns. Returns 0, -1
// for a closed connection, -2 on an internal error.
//
//export pmg_net_resolve
func pmg_net_resolve(mid C.longlong, id C.ulonglong, p *C.char, n C.longlong) (rc C.int) {
	defer guard(&rc, -2)
	_, c := connOf(mid, id)
	if c == nil {
		return -1
	}
	c.Resolve(string(goBytes(unsafe.Pointer(p), n)))
	return 0
}

// pmg_net_resolve_cancel cancels the pending lookup of connection id
// (Connection.resolve_cancel). Returns 0, -1 for a closed connection, -2 on
// an internal error.
//
//export pmg_net_resolve_cancel
func pmg_net_resolve_cancel(mid C.longlong, id C.ulonglong) (rc C.int) {
	defer guard(&rc, -2)
	_, c := connOf(mid, id)
	if c == nil {
		return -1
	}
	c.ResolveCancel()
	return 0
}

// pmg_net_sntp_request sends an SNTP request on connection id
// (Connection.sntp_request); on UDP MG_EV_WRITE fires before it returns.
// Returns 0, -1 for a closed connection, -2 on an internal error.
//
//export pmg_net_sntp_request
func pmg_net_sntp_request(mid C.longlong, id C.ulonglong) (rc C.int) {
	defer guard(&rc, -2)
	_, c := connOf(mid, id)
	if c == nil || c.SNTPRequest() != nil {
		return -1
	}
	return 0
}
