// Package pybind is the Go side of the pymongoose CPython extension,
// pymongoose/_mongoose.*.so (docs/design.md §1-§3).
//
// It has two halves, linked with core into one shared object, so the
// process has one Go runtime. The hot path is hand-written: the C files
// against Python.h (the per-Manager core object with poll() and the event
// dispatch, Connection, the message views, Timer, the module functions)
// and the cgo exports they call, in the Go files beside them. The cold API
// is the exported Go functions of api*.go and adapter.go (creating a
// Manager, listen/connect and the other creating calls, timers, closing,
// the server adapters' switches, debug hooks): gopy generates their Python
// bindings, which only pymongoose's own modules call. Only ints, strings,
// bools and errors cross that API, and every function recovers from panics.
//
// Python objects are touched only with the GIL held. poll() releases it
// only while the engine waits in epoll; gopy's wrappers release it around
// every cold call, so the dispatchers take it (PyGILState_Ensure) before
// they call a handler, and the Python side marks the Manager entered
// (_Core.enter/leave) around those calls.
package pybind
