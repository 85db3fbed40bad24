package pybind

// Go side of the TLS Connection methods (tls.c): tls_init, tls_free.

/*
#include "native.h"
*/
import "C"

import "github.com/pymongoose-go/pymongoose-go/core"

func tlsBytes(p *C.char, n C.longlong) []byte {
	b := cBytes(p, n)
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...) // the Python object may go away
}

// pmg_tls_init attaches TLS to connection id (Connection.tls_init); bad
// key material fires MG_EV_ERROR before it returns. Returns 0, rcClosed or rcInternal.
//
//export pmg_tls_init
func pmg_tls_init(mid C.longlong, id C.ulonglong, ca *C.char, caN C.longlong, cert *C.char, certN C.longlong,
	key *C.char, keyN C.longlong, name *C.char, nameN C.longlong, skip C.int) C.int {
	return onConn(mid, id, func(c *core.Conn) C.int {
		c.TLSInit(core.TLSOptions{
			CA:               tlsBytes(ca, caN),
			Cert:             tlsBytes(cert, certN),
			Key:              tlsBytes(key, keyN),
			Name:             string(cBytes(name, nameN)),
			SkipVerification: skip != 0,
		})
		return 0
	})
}

// pmg_tls_free discards the TLS state of connection id
// (Connection.tls_free). Returns 0, rcClosed or rcInternal.
//
//export pmg_tls_free
func pmg_tls_free(mid C.longlong, id C.ulonglong) C.int {
	return onConn(mid, id, func(c *core.Conn) C.int {
		c.TLSFree()
		return 0
	})
}
