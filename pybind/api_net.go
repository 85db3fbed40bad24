package pybind

import "github.com/pymongoose-go/pymongoose-go/core"

// SNTPConnect opens an SNTP client connection (Manager.sntp_connect) and
// returns its id. A request is sent as soon as the connection is
// established; MG_EV_SNTP_TIME carries the answer. MG_EV_OPEN (and for IP
// literals MG_EV_RESOLVE, the request's MG_EV_WRITE and MG_EV_CONNECT) reach
// the pending handler before it returns.
func SNTPConnect(mid int64, url string) (connID int64, err error) {
	defer recoverTo(&err)
	pm, err := open(mid)
	if err != nil {
		return 0, err
	}
	c, err := pm.m.SNTPConnect(url, core.ConnectOptions{
		Init: func(c *core.Conn) { pm.wrapper(c) }})
	if err != nil {
		return 0, err
	}
	return int64(c.ID()), nil
}
