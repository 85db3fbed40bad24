package pybind

// Views of C memory for the exports: data crosses as (pointer, length)
// pairs into buffers the C caller owns for the duration of the call, so
// these views must not outlive it; results go back as offsets into them or
// into C buffers the caller allocated.

/*
#include "native.h"
*/
import "C"

import (
	"unsafe"

	"github.com/pymongoose-go/pymongoose-go/core"
)

// Results of the Connection method exports besides 0: native.h's PMG_RC_*.
const (
	rcClosed   = C.PMG_RC_CLOSED
	rcInternal = C.PMG_RC_INTERNAL
	rcInvalid  = C.PMG_RC_INVALID
)

// onConn runs f on the open connection id of Manager mid and returns its
// result: rcClosed when the connection is gone, rcInternal on a panic.
func onConn(mid C.longlong, id C.ulonglong, f func(c *core.Conn) C.int) (rc C.int) {
	defer guard(&rc, rcInternal)
	_, c := connOf(mid, id)
	if c == nil {
		return rcClosed
	}
	return f(c)
}

// cBytes views C memory as a []byte without copying (nil when empty).
func cBytes(p *C.char, n C.longlong) []byte {
	if p == nil || n <= 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))
}

// cString views C memory as a string without copying.
func cString(p *C.char, n C.longlong) string {
	if p == nil || n <= 0 {
		return ""
	}
	return unsafe.String((*byte)(unsafe.Pointer(p)), int(n))
}

// cCopy copies C memory into a Go string that may outlive the call.
func cCopy(p *C.char, n C.longlong) string {
	return string(cBytes(p, n))
}

// cOut views a C output buffer of capacity n as a []byte.
func cOut(p *C.char, n int) []byte {
	if p == nil || n <= 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), n)
}

// bytesPtr is the C view of b (NULL when empty).
func bytesPtr(b []byte) *C.char {
	if len(b) == 0 {
		return nil
	}
	return (*C.char)(unsafe.Pointer(&b[0]))
}
