package core

import "testing"

func TestStatusTextAndReplyPadding(t *testing.T) {
	if StatusText(200) != "OK" || StatusText(299) != "" || StatusText(431) != "Request Header Fields Too Large" {
		t.Fatal("reasons")
	}
	m, _ := NewManager(nil, Options{Limits: DefaultLimits()})
	defer m.Close()
	l, _ := m.Listen("tcp://127.0.0.1:0", ListenOptions{})
	l.Reply(200, nil, []byte("ab"))
	want := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2          \r\n\r\nab"
	if string(l.SendData()) != want {
		t.Fatalf("%q", l.SendData())
	}
}
