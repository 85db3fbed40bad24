package core

import (
	"fmt"
	"sync/atomic"
)

// Engine log (log_set/log_get, docs/api.md §19.6). The level is process-wide, as
// Mongoose's mg_log_level; 0 (the default) logs nothing. Lines go to the
// sink the binding installs (the Python side hands them to the logging
// module); without a sink they are dropped.
//
// Log lines are produced only on the loop's side: inside Manager methods,
// Poll/Process and the API calls the binding makes, never on background
// goroutines (resolver, TLS), so a sink may call into the host language
// directly.

// Log levels, the values of the MG_LL_* constants.
const (
	LogNone    = 0
	LogError   = 1
	LogInfo    = 2
	LogDebug   = 3
	LogVerbose = 4
)

var (
	logLevel atomic.Int32
	logSink  atomic.Pointer[func(level int, msg string)]
)

// SetLogLevel sets the process-wide engine log level (MG_LL_*).
func SetLogLevel(level int) { logLevel.Store(int32(level)) }

// LogLevel returns the process-wide engine log level.
func LogLevel() int { return int(logLevel.Load()) }

// SetLogSink installs the function that receives every log line whose
// level is enabled (nil drops them).
func SetLogSink(f func(level int, msg string)) {
	if f == nil {
		logSink.Store(nil)
		return
	}
	logSink.Store(&f)
}

// LogEnabled reports whether lines of level are currently wanted.
func LogEnabled(level int) bool {
	return level > LogNone && level <= int(logLevel.Load()) && logSink.Load() != nil
}

// logf formats and emits one log line if its level is enabled; the
// arguments are not formatted otherwise.
func logf(level int, format string, args ...any) {
	if !LogEnabled(level) {
		return
	}
	if f := logSink.Load(); f != nil {
		(*f)(level, fmt.Sprintf(format, args...))
	}
}
