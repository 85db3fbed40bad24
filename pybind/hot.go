package pybind

/*
#cgo CFLAGS: -O2 -Wno-unused-parameter
#include "native.h"
*/
import "C"

import (
	"fmt"
	"os"
	"runtime/debug"
	"time"
	"unsafe"

	"github.com/pymongoose-go/pymongoose-go/core"
)

// Results of pmg_poll, read by native.c.
const (
	pollOK       = 0
	pollFreed    = 1
	pollSignal   = 3
	pollAborted  = 4
	pollInternal = 5
)

// A poll() wait is cut into slices this long so that a signal delivered to
// one of Go's threads (which does not interrupt our epoll_wait) is still
// noticed by Python quickly.
const signalSliceMs = 50

// reportPanic keeps a Go panic from killing the interpreter: it is written
// to stderr and the call fails with an error instead.
func reportPanic(r any) {
	fmt.Fprintf(os.Stderr, "pymongoose: internal error: %v\n%s", r, debug.Stack())
}

// guard is deferred by every export: a Go panic is reported and the call
// returns fail instead of aborting the interpreter.
func guard[T any](rc *T, fail T) {
	if r := recover(); r != nil {
		reportPanic(r)
		*rc = fail
	}
}

func goBytes(p unsafe.Pointer, n C.longlong) []byte {
	if p == nil || n <= 0 {
		return nil
	}
	return unsafe.Slice((*byte)(p), int(n))
}

//export pmg_attach
func pmg_attach(mid C.longlong, obj *C.PyObject) (ok C.int) {
	defer guard(&ok, 0)
	pm := lookup(int64(mid))
	if pm == nil || pm.core != nil {
		return 0
	}
	pm.core = obj
	pm.m.SetPollBatcher(pm.pollBatch)
	return 1
}

//export pmg_poll
func pmg_poll(mid C.longlong, timeout C.int) (rc C.int) {
	defer guard(&rc, pollInternal)
	pm := lookup(int64(mid))
	if pm == nil || pm.m.Closed() {
		return pollFreed
	}
	yieldIfDue()
	total := int(timeout)
	// One clock reading per slice, shared with Wait (none for poll(0)).
	var start, now time.Time
	if total > 0 {
		start = time.Now()
		now = start
	}
	limit := time.Duration(total) * time.Millisecond
	for {
		slice := total
		if total < 0 || slice > signalSliceMs {
			slice = signalSliceMs
		}
		if total > 0 {
			// Rounded up: a wait of 0 would spin through the last fraction of a ms.
			left := int((limit - now.Sub(start) + time.Millisecond - 1) / time.Millisecond)
			if left < slice {
				slice = max(left, 0)
			}
		}
		ts := C.pmg_save_thread()
		ready := pm.m.WaitAt(now, slice)
		C.pmg_restore_thread(ts)
		if C.pmg_check_signals() != 0 {
			return pollSignal
		}
		if C.pmg_core_closing(pm.core) != 0 {
			return pollOK // Manager.close() from another thread is waiting for us
		}
		if ready || total == 0 {
			break
		}
		if total > 0 {
			now = time.Now()
			if now.Sub(start) >= limit {
				break
			}
		}
	}
	aborted := pm.m.Process()
	if pm.m.Closed() {
		pm.free() // Manager.close() was called from a handler
	}
	if aborted {
		return pollAborted
	}
	return pollOK
}

// pmg_loop_fd is the engine's epoll descriptor for an external event loop
// (-1 once freed); pmg_next_timeout is when that loop must poll(0) next.
//
//export pmg_loop_fd
func pmg_loop_fd(mid C.longlong) (fd C.int) {
	defer guard(&fd, -1)
	pm := lookup(int64(mid))
	if pm == nil || pm.m.Closed() {
		return -1
	}
	return C.int(pm.m.Fd())
}

//export pmg_next_timeout
func pmg_next_timeout(mid C.longlong) (ms C.longlong) {
	defer guard(&ms, -2)
	pm := lookup(int64(mid))
	if pm == nil || pm.m.Closed() {
		return -2
	}
	return C.longlong(pm.m.NextTimeout(time.Time{}))
}

//export pmg_conn_info
func pmg_conn_info(mid C.longlong, id C.ulonglong, out *C.pmg_info) (ok C.int) {
	defer guard(&ok, 0)
	_, c := connOf(mid, id)
	if c == nil {
		return 0
	}
	var f C.uint
	set := func(b bool, bit C.uint) {
		if b {
			f |= bit
		}
	}
	set(c.IsListening(), C.PMG_F_LISTENING)
	set(c.IsClient(), C.PMG_F_CLIENT)
	set(c.IsTLS(), C.PMG_F_TLS)
	set(c.IsUDP(), C.PMG_F_UDP)
	set(c.IsWebsocket(), C.PMG_F_WEBSOCKET)
	set(c.IsReadable(), C.PMG_F_READABLE)
	set(c.IsWritable(), C.PMG_F_WRITABLE)
	set(c.IsFull(), C.PMG_F_FULL)
	set(c.IsDraining(), C.PMG_F_DRAINING)
	set(c.IsClosing(), C.PMG_F_CLOSING)
	out.flags = f
	out.recv_len = C.longlong(c.RecvLen())
	out.send_len = C.longlong(c.SendLen())
	out.recv_size = C.longlong(c.RecvSize())
	out.send_size = C.longlong(c.SendSize())
	putAddr(c.LocalAddr(), &out.local_ip, &out.local_port, &out.local_v6)
	putAddr(c.RemoteAddr(), &out.remote_ip, &out.remote_port, &out.remote_v6)
	return 1
}

func putAddr(a core.Addr, ip *[16]C.uchar, port *C.int, v6 *C.int) {
	*port = C.int(a.Port)
	if a.IPv6 {
		*v6 = 1
		for i, b := range a.IP.To16() {
			ip[i] = C.uchar(b)
		}
		return
	}
	*v6 = 0
	if v4 := a.IP.To4(); v4 != nil {
		for i, b := range v4 {
			ip[i] = C.uchar(b)
		}
	}
}

//export pmg_conn_send
func pmg_conn_send(mid C.longlong, id C.ulonglong, p *C.char, n C.longlong) (rc C.int) {
	defer guard(&rc, -2)
	_, c := connOf(mid, id)
	if c == nil {
		return -1
	}
	if err := c.Send(goBytes(unsafe.Pointer(p), n)); err != nil {
		return -2
	}
	return 0
}

//export pmg_conn_send_response
func pmg_conn_send_response(mid C.longlong, id C.ulonglong, p *C.char, n C.longlong, end C.int) (rc C.int) {
	defer guard(&rc, -2)
	_, c := connOf(mid, id)
	if c == nil {
		return -1
	}
	if err := c.SendResponse(goBytes(unsafe.Pointer(p), n), end != 0); err != nil {
		return -2
	}
	return 0
}

//export pmg_conn_reply
func pmg_conn_reply(mid C.longlong, id C.ulonglong, code C.longlong, h *C.char, hn C.longlong,
	hdefault C.int, b *C.char, bn C.longlong) (rc C.int) {
	defer guard(&rc, -2)
	_, c := connOf(mid, id)
	if c == nil {
		return -1
	}
	var headers []byte
	if hdefault == 0 {
		headers = goBytes(unsafe.Pointer(h), hn)
		if headers == nil {
			headers = []byte{} // an empty dict: no header lines at all
		}
	}
	c.Reply(int(code), headers, goBytes(unsafe.Pointer(b), bn))
	return 0
}

//export pmg_conn_chunk
func pmg_conn_chunk(mid C.longlong, id C.ulonglong, p *C.char, n C.longlong) (rc C.int) {
	defer guard(&rc, -2)
	_, c := connOf(mid, id)
	if c == nil {
		return -1
	}
	c.HTTPChunk(goBytes(unsafe.Pointer(p), n))
	return 0
}

//export pmg_conn_drain
func pmg_conn_drain(mid C.longlong, id C.ulonglong) (rc C.int) {
	defer guard(&rc, -2)
	if _, c := connOf(mid, id); c != nil {
		c.Drain()
	}
	return 0
}

//export pmg_conn_close
func pmg_conn_close(mid C.longlong, id C.ulonglong) (rc C.int) {
	defer guard(&rc, -2)
	if _, c := connOf(mid, id); c != nil {
		c.Close()
	}
	return 0
}

//export pmg_conn_error
func pmg_conn_error(mid C.longlong, id C.ulonglong, p *C.char, n C.longlong) (rc C.int) {
	defer guard(&rc, -2)
	_, c := connOf(mid, id)
	if c == nil {
		return -1
	}
	c.Error(string(goBytes(unsafe.Pointer(p), n)))
	return 0
}

//export pmg_conn_copy
func pmg_conn_copy(mid C.longlong, id C.ulonglong, which C.int, dst *C.char, n C.longlong) (got C.longlong) {
	defer guard(&got, -1)
	_, c := connOf(mid, id)
	if c == nil {
		return -1
	}
	src := c.RecvData()
	if which != 0 {
		src = c.SendData()
	}
	return C.longlong(copy(goBytes(unsafe.Pointer(dst), n), src))
}

//export pmg_wakeup
func pmg_wakeup(mid C.longlong, id C.ulonglong, p unsafe.Pointer, n C.longlong) (rc C.int) {
	defer guard(&rc, -1)
	pm := lookup(int64(mid))
	if pm == nil || pm.m.Closed() {
		return -1
	}
	data := append([]byte(nil), goBytes(p, n)...)
	if pm.m.Wakeup(uint64(id), data) {
		return 1
	}
	return 0
}

//export pmg_timer_cancel
func pmg_timer_cancel(mid C.longlong, key C.longlong) {
	defer func() {
		if r := recover(); r != nil {
			reportPanic(r)
		}
	}()
	if pm := lookup(int64(mid)); pm != nil {
		if t := pm.takeTimer(int64(key)); t != nil {
			t.Cancel()
		}
	}
}
