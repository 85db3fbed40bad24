package pybind

import "github.com/pymongoose-go/pymongoose-go/core"

// AdapterWSSwitch switches connection connID of Manager mid to WebSocket
// frames once a server adapter (pymongoose.asgi) has queued its own 101
// response with Connection._http_send: the handshake completes when the
// application accepts it, after the request's MG_EV_HTTP_MSG.
func AdapterWSSwitch(mid int64, connID int64) (err error) {
	defer recoverTo(&err)
	pm, err := open(mid)
	if err != nil {
		return err
	}
	c := pm.m.ConnByID(uint64(connID))
	if c == nil {
		return core.ErrConnClosed
	}
	return c.WSSwitch()
}

// AdapterPeerEOF reports whether the peer of connection connID has closed
// its side (false once the connection is gone: MG_EV_CLOSE says that).
func AdapterPeerEOF(mid int64, connID int64) (eof bool, err error) {
	defer recoverTo(&err)
	pm, err := open(mid)
	if err != nil {
		return false, err
	}
	c := pm.m.ConnByID(uint64(connID))
	return c != nil && c.PeerEOF(), nil
}
