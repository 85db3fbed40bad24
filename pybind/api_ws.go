package pybind

import "github.com/pymongoose-go/pymongoose-go/core"

// WSConnect opens a WebSocket client connection (Manager.ws_connect) and
// returns its id. The upgrade request is queued at once; MG_EV_OPEN (and
// for IP literals MG_EV_RESOLVE) reach the pending handler before it
// returns, MG_EV_WS_OPEN follows the server's 101 response.
func WSConnect(mid int64, url string) (connID int64, err error) {
	defer recoverTo(&err)
	pm, err := open(mid)
	if err != nil {
		return 0, err
	}
	c, err := pm.m.WSConnect(url, core.ConnectOptions{
		Init: func(c *core.Conn) { pm.wrapper(c) }})
	if err != nil {
		return 0, err
	}
	return int64(c.ID()), nil
}
