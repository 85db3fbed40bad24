package core

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// SendResponse: an adapter's own framing goes out byte for byte, and only
// end=true lets the next pipelined request be parsed.
func TestSendResponseFramesAndEndsTheResponse(t *testing.T) {
	var served []string
	h := newHarness(t, nil, func(c *Conn, ev Event, data any) Result {
		if ev == EvHTTPMsg {
			served = append(served, string(data.(*HTTPMessage).URIBytes()))
			c.SendResponse([]byte("HTTP/1.1 299 Custom Thing\r\nContent-Length: 2\r\n\r\n"), false)
			c.SendResponse([]byte("ok"), false)
			c.SendResponse(nil, true)
		}
		return ResultOK
	})
	_, addr := h.listen(true)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"))
	want := "HTTP/1.1 299 Custom Thing\r\nContent-Length: 2\r\n\r\nok"
	got := make(chan string, 1)
	go func() {
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 2*len(want))
		n, _ := io.ReadFull(bufio.NewReader(conn), buf)
		got <- string(buf[:n])
	}()
	var answer string
	h.until("two responses", func() bool {
		select {
		case answer = <-got:
			return true
		default:
			return false
		}
	})
	if answer != want+want || len(served) != 2 || served[1] != "/b" {
		t.Fatalf("answer %q served %v", answer, served)
	}
}
