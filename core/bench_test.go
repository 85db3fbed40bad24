package core

import (
	"net"
	"testing"
)

// BenchmarkKeepAliveRequest measures one keep-alive request/response
// through the engine (client write, wait, read, parse, dispatch, reply,
// write, client read), on one loopback connection.
func BenchmarkKeepAliveRequest(b *testing.B) {
	r := newKeepAliveRig(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.roundTrip()
	}
}

// BenchmarkPollIdle1000 measures the cost of EvPoll on 1,000 idle
// connections (reported per EvPoll).
func BenchmarkPollIdle1000(b *testing.B) { benchPollIdle(b, false) }

// benchPollIdle polls 1,000 idle connections, delivering EvPoll one by one
// or through a Go PollBatcher.
func benchPollIdle(b *testing.B, batched bool) {
	const n = 1000
	polls := 0
	d := func(c *Conn, ev Event, data any) Result {
		if ev == EvPoll {
			polls++
		}
		return ResultOK
	}
	m, err := NewManager(d, Options{Limits: DefaultLimits()})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	if batched {
		m.SetPollBatcher(func(conns []*Conn, stop *uint32) (int, bool) {
			for _, c := range conns {
				if !c.IsClosed() {
					d(c, EvPoll, nil)
				}
			}
			return len(conns), false
		})
	}
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
