package core

// protocol is a per-connection engine other than HTTP (WebSocket, MQTT,
// SNTP, ...) that consumes the receive buffer. It runs after each read and
// before EvRead, so its events come first (docs/api.md §2.5).
type protocol interface {
	// onRead parses what is buffered and delivers the protocol's events.
	// It must stop when the connection closes, drains, or m.aborted is set.
	onRead(m *Manager, c *Conn)
	// recvNeed is what the message being received adds to MaxRecvSize
	// (io.go's recvLimit): it has its own limit, so MaxRecvSize bounds only
	// what is queued behind it.
	recvNeed() int
}

// setChildProtocol makes every connection that listener l accepts from now
// on start with the engine made by f (e.g. MQTT for mqtt_listen).
func (l *Conn) setChildProtocol(f func(*Conn) protocol) { l.x().childProto = f }
