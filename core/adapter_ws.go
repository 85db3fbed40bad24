package core

import "errors"

// ErrNotHTTPServer: the connection is not a server-side HTTP one.
var ErrNotHTTPServer = errors.New("not an HTTP server connection")

// WSSwitch turns an accepted HTTP connection into a WebSocket one after a
// server adapter has queued its own 101 response (SendResponse): unlike
// WSUpgrade it needs no request in hand, so the handshake can complete
// later than the request's EvHTTPMsg, when the application accepts it.
// Frames are parsed from then on; no EvWSOpen is delivered.
func (c *Conn) WSSwitch() error {
	if c.has(fClosed) || c.m == nil {
		return ErrConnClosed
	}
	if !c.httpServer() {
		return ErrNotHTTPServer
	}
	c.httpStop()
	c.setProtocol(&wsConn{server: true})
	c.set(fWebsocket)
	c.m.kick(c) // frames that arrived with the request are parsed next turn
	return nil
}
