package pybind

// AdapterStreamBodies makes Manager mid stream request bodies of at least
// threshold bytes, and chunked ones, to a server adapter (pymongoose.asgi,
// pymongoose.wsgi): private events instead of one MG_EV_HTTP_MSG, with at
// most window bytes delivered and not yet consumed before the engine stops
// reading (core/http_body_stream.go). threshold 0 turns it off.
func AdapterStreamBodies(mid int64, threshold int64, window int64) (err error) {
	defer recoverTo(&err)
	pm, err := open(mid)
	if err != nil {
		return err
	}
	pm.m.SetBodyStreaming(threshold, int(window))
	return nil
}

// AdapterBodyConsumed reports that the application took n more bytes of the
// body streaming on connection connID (n 0: it asks for the body, which
// sends a pending 100 Continue). A connection that is gone is not an error:
// MG_EV_CLOSE says that.
func AdapterBodyConsumed(mid int64, connID int64, n int64) (err error) {
	defer recoverTo(&err)
	pm, err := open(mid)
	if err != nil {
		return err
	}
	if c := pm.m.ConnByID(uint64(connID)); c != nil {
		c.BodyConsumed(int(n))
	}
	return nil
}

// AdapterBodyUnconsumed is the number of streamed body bytes of connection
// connID delivered and not yet reported consumed (0 when none streams).
func AdapterBodyUnconsumed(mid int64, connID int64) (n int64, err error) {
	defer recoverTo(&err)
	pm, err := open(mid)
	if err != nil {
		return 0, err
	}
	if c := pm.m.ConnByID(uint64(connID)); c != nil {
		return int64(c.BodyUnconsumed()), nil
	}
	return 0, nil
}
