package core

import (
	"bytes"
	"net"
	"testing"
)

// BenchmarkKeepAliveRequest measures one keep-alive request/response
// through the engine (client write, wait, read, parse, dispatch, reply,
// write, client read), on one loopback connection.
func BenchmarkKeepAliveRequest(b *testing.B) {
	body := []byte("hello world")
	served := 0
	m, err := NewManager(func(c *Conn, ev Event, data any) Result {
		if ev == EvHTTPMsg {
			served++
			c.Reply(200, nil, body)
		}
		return ResultOK
	}, Options{Limits: DefaultLimits()})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	l, _ := m.Listen("tcp://127.0.0.1:0", ListenOptions{HTTP: true})
	conn, err := net.Dial("tcp", l.LocalAddr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	req := []byte("GET /bench HTTP/1.1\r\nHost: x\r\nUser-Agent: bench\r\n\r\n")
	buf := make([]byte, 4096)
	respLen := 0
	roundTrip := func() {
		conn.Write(req)
		want := served + 1
		for served < want {
			m.Poll(100)
		}
		// The reply was written in the same iteration; read it whole.
		got := 0
		for got < respLen || respLen == 0 {
			n, err := conn.Read(buf[got:])
			if err != nil {
				b.Fatal(err)
			}
			got += n
			if respLen == 0 && bytes.HasSuffix(buf[:got], body) {
				respLen = got
			}
		}
	}
	roundTrip() // accept and warm up
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		roundTrip()
	}
}

// BenchmarkPollIdle1000 measures the cost of EvPoll on 1,000 idle
// connections (reported per EvPoll).
func BenchmarkPollIdle1000(b *testing.B) {
	const n = 1000
	polls := 0
	m, err := NewManager(func(c *Conn, ev Event, data any) Result {
		if ev == EvPoll {
			polls++
		}
		return ResultOK
	}, Options{Limits: DefaultLimits()})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	l, _ := m.Listen("tcp://127.0.0.1:0", ListenOptions{HTTP: true})
	var clients []net.Conn
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for len(m.Conns()) < n+1 {
		if len(clients) < n {
			c, err := net.Dial("tcp", l.LocalAddr().String())
			if err != nil {
				b.Fatal(err)
			}
			clients = append(clients, c)
		}
		m.Poll(0)
	}
	l.Close()
	for i := 0; i < 3; i++ {
		m.Poll(0)
	}
	polls = 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Poll(0)
	}
	b.StopTimer()
	if polls != b.N*n {
		b.Fatalf("polls %d, want %d", polls, b.N*n)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(polls), "ns/EvPoll")
}
