// Package core is the networking engine of pymongoose-go: pure Go (no cgo,
// no Python), Linux only (epoll, eventfd).
//
// It reproduces the event model of the Mongoose C library as pymongoose
// exposes it (docs/api.md; how the layers fit: docs/design.md). A Manager
// owns connections and timers; everything a user observes happens inside
// Manager.Process, or inside the few calls that fire events synchronously
// (Listen, Connect, Conn.Close, WSUpgrade, ...). Every event goes to the
// Dispatcher given to NewManager, after the connection's protocol engine
// (HTTP server or client, static files, WebSocket, MQTT, SNTP) has seen it.
//
// The loop is single-threaded over non-blocking sockets and edge-triggered
// epoll. Wait is split from Process so that a binding can release its lock
// (Python's GIL) only around the blocking wait; Poll does both. Another
// event loop can drive a Manager instead, through Fd and NextTimeout.
// Goroutines do only what would block the loop (name resolution, TLS
// handshakes) or come from other threads (Wakeup); they hand their results
// to the loop through a queue and an eventfd. Limits bound what one
// connection may cost. The parsers of what arrives on the wire (HTTP heads,
// chunked bodies, MQTT packets, URLs) live in the leaf package core/codec,
// which knows no connection.
package core
