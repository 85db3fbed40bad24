// Package pybind is the Go side of the pymongoose CPython extension,
// pymongoose/_mongoose.*.so (docs/design.md §1-§3).
//
// It has two halves, linked with core into one shared object, so the
// process has one Go runtime. The hot path is hand-written: C files against
// Python.h, each beside the Go file of the same name that holds the cgo
// exports it calls (manager.c and manager.go: the per-Manager core object
// and poll(); dispatch: events into handlers; conn: Connection; http_msg
// and message: the message views; timer; the module functions), with what
// they share in native.h and args.c. The cold API is the exported Go
// functions of api*.go, adapter.go and body_stream.go (creating a Manager,
// listen/connect and the other creating calls, timers, closing, the server
// adapters' switches, debug hooks): gopy generates their Python bindings,
// which only pymongoose's own modules call. Only ints, strings, bools and
// errors cross that API, and every function recovers from panics.
//
// Python objects are touched only with the GIL held. poll() releases it
// only while the engine waits in epoll; gopy's wrappers release it around
// every cold call, so the dispatchers take it (PyGILState_Ensure) before
// they call a handler, and the Python side marks the Manager entered
// (_Core.enter/leave) around those calls.
package pybind
