package core

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

// WSSwitch: a 101 queued by an adapter after the request's EvHTTPMsg (from
// a timer, as an application accepting later would), then frames both ways.
func TestWSSwitchAfterTheRequest(t *testing.T) {
	var pending *Conn
	var got []string
	h := newHarness(t, nil, func(c *Conn, ev Event, data any) Result {
		switch ev {
		case EvHTTPMsg:
			pending = c // no answer yet: the application decides later
		case EvWSMsg:
			got = append(got, string(data.(*WSMessage).Data))
			c.WSSend([]byte("echo"), WSOpText)
		}
		return ResultOK
	})
	_, addr := h.listen(true)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	h.until("the request", func() bool { return pending != nil })
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + WSAccept([]byte("dGhlIHNhbXBsZSBub25jZQ==")) + "\r\n\r\n"
	if err := pending.SendResponse([]byte(resp), false); err != nil {
		t.Fatal(err)
	}
	if err := pending.WSSwitch(); err != nil {
		t.Fatal(err)
	}
	if err := pending.WSSwitch(); err != ErrNotHTTPServer {
		t.Fatalf("second switch: %v", err)
	}
	// one masked text frame "hi"
	mask := []byte{1, 2, 3, 4}
	frame := []byte{0x81, 0x82, mask[0], mask[1], mask[2], mask[3], 'h' ^ mask[0], 'i' ^ mask[1]}
	conn.Write(frame)
	read := make(chan string, 1)
	go func() {
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(conn)
		var b strings.Builder
		buf := make([]byte, len(resp)+6)
		n := 0
		for n < len(buf) {
			k, err := r.Read(buf[n:])
			if err != nil {
				break
			}
			n += k
		}
		b.Write(buf[:n])
		read <- b.String()
	}()
	var answer string
	h.until("101 and the echo frame", func() bool {
		select {
		case answer = <-read:
			return true
		default:
			return false
		}
	})
	if answer != resp+"\x81\x04echo" || len(got) != 1 || got[0] != "hi" {
		t.Fatalf("answer %q got %v", answer, got)
	}
}
