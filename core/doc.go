// Package core is the pure-Go networking engine of pymongoose-go.
//
// It reproduces the event model of the Mongoose C library as pymongoose
// exposes it (see shared/API.md): a Manager owns connections and timers,
// and everything a user can observe happens inside Manager.Process (or the
// few calls that fire events synchronously, such as Conn.Close). The loop
// is single-threaded and uses non-blocking sockets driven by edge-triggered
// epoll; background goroutines are used only for name resolution and hand
// their results back through a queue plus an eventfd.
//
// Process is split from Wait so that the Python binding can release the GIL
// only around the blocking wait: Wait dispatches nothing, Process dispatches
// every event through the Dispatcher given to NewManager.
//
// The engine implements the foundation of the project: TCP and UDP
// listeners and clients, the HTTP/1.1 server engine (keep-alive,
// pipelining, request limits, error responses), minimal client-side
// response parsing, drain and close semantics, timers and wakeups.
// It is Linux-only (epoll, eventfd), like the project. The parsers of
// what arrives on the wire (HTTP heads, chunked bodies, MQTT packets, URLs)
// live in the leaf package core/codec, which knows no connection.
package core
