package core

import (
	"net"
	"testing"
)

// PeerEOF: a client that closes while its response is in progress keeps
// the connection open (it may only have half-closed), and PeerEOF says so.
func TestPeerEOFWhileAResponseIsInProgress(t *testing.T) {
	var pending *Conn
	h := newHarness(t, nil, func(c *Conn, ev Event, data any) Result {
		if ev == EvHTTPMsg {
			pending = c // answered later
		}
		return ResultOK
	})
	_, addr := h.listen(true)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	h.until("the request", func() bool { return pending != nil })
	if pending.PeerEOF() {
		t.Fatal("EOF before the client closed")
	}
	conn.(*net.TCPConn).CloseWrite()
	h.until("the end of file", func() bool { return pending.PeerEOF() })
	if pending.has(fClosed) || pending.has(fClosing) {
		t.Fatal("closed while its response is in progress")
	}
	conn.Close()
}
