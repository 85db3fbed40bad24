// Package pybind is the Go side of the pymongoose CPython extension.
//
// It has two halves. The cold API (manager creation, listen/connect,
// timers, closing) is made of plain exported functions over ints, strings
// and bools; gopy generates their Python bindings. The hot path (poll, event
// dispatch into the Python handler, send/reply and the Connection and
// HttpMessage types) is hand-written: native.c against Python.h, and the
// cgo exports in hot.go that it calls. Both halves are linked into one
// shared object, so the process has one Go runtime.
//
// Python objects are only touched with the GIL held, on the thread that
// called in; the GIL is released only while the engine waits in epoll.
package pybind
