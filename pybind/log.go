package pybind

// Go side of log.c: log_set()/log_get() and the sink that hands the
// engine's log lines to Python's logging module.

/*
#include "native.h"
*/
import "C"

import (
	"unsafe"

	"github.com/pymongoose-go/pymongoose-go/core"
)

// native.h's PMG_LL_* are core's log levels: checked at compile time (an
// index out of range when they differ).
var _ = [1]struct{}{}[(C.PMG_LL_NONE-core.LogNone)|(C.PMG_LL_ERROR-core.LogError)|
	(C.PMG_LL_INFO-core.LogInfo)|(C.PMG_LL_DEBUG-core.LogDebug)|(C.PMG_LL_VERBOSE-core.LogVerbose)]

func init() {
	// Engine log lines are produced on the loop's side only (core/log.go),
	// that is on a thread that is running Python code or a poll().
	core.SetLogSink(func(level int, msg string) {
		C.pmg_log_line(C.int(level), (*C.char)(unsafe.Pointer(unsafe.StringData(msg))), C.longlong(len(msg)))
	})
}

//export pmg_log_set
func pmg_log_set(level C.int) {
	core.SetLogLevel(int(level))
}

//export pmg_log_get
func pmg_log_get() C.int {
	return C.int(core.LogLevel())
}
