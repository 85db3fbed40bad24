package pybind

// Go side of the per-Manager object of manager.c: attach, poll() (its wait
// cut into slices so that Python sees signals), the descriptor and timeout
// an external event loop watches, wakeup(); and guard, which every export
// defers.

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
)

// Results of pmg_poll: native.h's PMG_POLL_*.
const (
	pollOK       = C.PMG_POLL_OK
	pollFreed    = C.PMG_POLL_FREED
	pollSignal   = C.PMG_POLL_SIGNAL
	pollAborted  = C.PMG_POLL_ABORTED
	pollInternal = C.PMG_POLL_INTERNAL
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
		if !pm.noYield {
			yieldIfDue() // runtime.go; without the GIL
		}
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

//export pmg_wakeup
func pmg_wakeup(mid C.longlong, id C.ulonglong, p unsafe.Pointer, n C.longlong) (rc C.int) {
	defer guard(&rc, -1)
	pm := lookup(int64(mid))
	if pm == nil || pm.m.Closed() {
		return -1
	}
	data := append([]byte(nil), cBytes((*C.char)(p), n)...)
	if pm.m.Wakeup(uint64(id), data) {
		return 1
	}
	return 0
}
