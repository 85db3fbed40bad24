// Package pybind is the Go side of the pymongoose CPython extension.
//
// It has two halves. The cold API (manager creation, listen/connect,
// timers, closing) is made of plain exported functions over ints, strings
// and bools; gopy generates their Python bindings. The hot path (poll, event
// dispatch into the Python handler, send/reply and the Connection and
// HttpMessage types) is hand-written: C files against Python.h, each
// beside the Go file of the same name that holds the cgo exports it calls
// (manager.c and manager.go, dispatch.c and dispatch.go, ...), with what
// they share in native.h and args.c. Both halves are linked into one
// shared object, so the process has one Go runtime.
//
// Python objects are only touched with the GIL held, on the thread that
// called in; the GIL is released only while the engine waits in epoll.
package pybind
