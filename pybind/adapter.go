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

// AdapterSkipEvents stops delivering the events whose bits are set in mask
// (bit n: event n) to any handler of Manager mid: a server adapter that has
// nothing to do with MG_EV_POLL, MG_EV_READ or MG_EV_HTTP_HDRS saves a
// Python call for each. MG_EV_CLOSE is always delivered: it retires the
// connection's wrapper.
func AdapterSkipEvents(mid int64, mask int64) (err error) {
	defer recoverTo(&err)
	pm, err := open(mid)
	if err != nil {
		return err
	}
	pm.skip = uint64(mask) &^ (1 << uint(core.EvClose))
	return nil
}

// AdapterAllHeaders makes the HTTP servers of Manager mid keep every header
// of a request (up to max_headers), not the first 30 that Mongoose's API
// stores: an ASGI or WSGI application gets all of them, as from uvicorn or
// gunicorn.
func AdapterAllHeaders(mid int64) (err error) {
	defer recoverTo(&err)
	pm, err := open(mid)
	if err != nil {
		return err
	}
	pm.m.StoreAllHeaders()
	return nil
}

// AdapterNoYield stops poll() of Manager mid from yielding the P every few
// ms (runtime.go): for a Manager whose requests run on other Python threads
// (pymongoose.wsgi with app threads), where the hand-off costs more.
func AdapterNoYield(mid int64) (err error) {
	defer recoverTo(&err)
	pm, err := open(mid)
	if err != nil {
		return err
	}
	pm.noYield = true
	return nil
}
