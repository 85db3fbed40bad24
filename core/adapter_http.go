package core

// PeerEOF reports whether the peer has closed its side of the connection
// (a read returned end-of-file). The engine keeps such a connection open
// while a response is in progress (the client may only have half-closed);
// a server adapter asks this to tell an application that awaits the
// client's next message that the client has gone.
func (c *Conn) PeerEOF() bool { return c.has(fPeerEOF) }
