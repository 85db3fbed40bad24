package core

import (
	"bytes"
	"net"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// keepAliveRig is one HTTP keep-alive loopback connection through the
// engine; roundTrip sends a request and reads the whole reply.
type keepAliveRig struct {
	m         *Manager
	conn      net.Conn
	served    int
	roundTrip func()
}

func newKeepAliveRig(tb testing.TB) *keepAliveRig {
	tb.Helper()
	r := &keepAliveRig{}
	body := []byte("hello world")
	m, err := NewManager(func(c *Conn, ev Event, data any) Result {
		if ev == EvHTTPMsg {
			r.served++
			c.Reply(200, nil, body)
		}
		return ResultOK
	}, Options{Limits: DefaultLimits()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(m.Close)
	l, _ := m.Listen("tcp://127.0.0.1:0", ListenOptions{HTTP: true})
	conn, err := net.Dial("tcp", l.LocalAddr().String())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	r.m, r.conn = m, conn
	req := []byte("GET /bench HTTP/1.1\r\nHost: x\r\nUser-Agent: bench\r\n\r\n")
	buf := make([]byte, 4096)
	respLen := 0
	r.roundTrip = func() {
		conn.Write(req)
		want := r.served + 1
		for r.served < want {
			m.Poll(100)
		}
		// The reply was written in the same iteration; read it whole.
		got := 0
		for got < respLen || respLen == 0 {
			n, err := conn.Read(buf[got:])
			if err != nil {
				tb.Fatal(err)
			}
			got += n
			if respLen == 0 && bytes.HasSuffix(buf[:got], body) {
				respLen = got
			}
		}
	}
	r.roundTrip() // accept and warm up
	return r
}

// TestKeepAliveZeroAllocs: a keep-alive HTTP request through the engine
// (read, parse, dispatch, reply, write) allocates nothing (issue 8).
func TestKeepAliveZeroAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("loopback round trips")
	}
	r := newKeepAliveRig(t)
	for i := 0; i < 10; i++ {
		r.roundTrip() // buffers reach their steady size
	}
	if n := testing.AllocsPerRun(200, r.roundTrip); n != 0 {
		t.Fatalf("%v allocations per keep-alive request, want 0", n)
	}
}

// closeRig accepts one connection per request, replies, drains and closes
// (the one-connection-per-request benchmark), with raw client sockets.
type closeRig struct {
	m      *Manager
	sa     unix.Sockaddr
	closed int
	req    []byte
	buf    []byte
}

func newCloseRig(tb testing.TB) *closeRig {
	tb.Helper()
	r := &closeRig{
		req: []byte("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
		buf: make([]byte, 4096),
	}
	body := []byte(`{"message":"Hello, World!"}`)
	hdr := []byte("Content-Type: application/json\r\nConnection: close\r\n")
	m, err := NewManager(func(c *Conn, ev Event, data any) Result {
		switch ev {
		case EvHTTPMsg:
			c.Reply(200, hdr, body)
			c.Drain()
		case EvClose:
			if c.Parent() != nil {
				r.closed++
			}
		}
		return ResultOK
	}, Options{Limits: DefaultLimits()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(m.Close)
	l, err := m.Listen("tcp://127.0.0.1:0", ListenOptions{HTTP: true})
	if err != nil {
		tb.Fatal(err)
	}
	r.m = m
	r.sa = &unix.SockaddrInet4{Port: l.LocalAddr().Port, Addr: [4]byte{127, 0, 0, 1}}
	return r
}

// request opens a connection, sends a request and reads until the server
// closes it.
func (r *closeRig) request(tb testing.TB) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, r.sa); err != nil {
		tb.Fatal(err)
	}
	if _, err := unix.Write(fd, r.req); err != nil {
		tb.Fatal(err)
	}
	want := r.closed + 1
	for r.closed < want {
		r.m.Poll(100)
	}
	for {
		n, err := unix.Read(fd, r.buf)
		if n <= 0 || err != nil {
			return
		}
	}
}

// BenchmarkConnPerRequest: accept, one request, reply, drain, close.
func BenchmarkConnPerRequest(b *testing.B) {
	r := newCloseRig(b)
	for i := 0; i < 10; i++ {
		r.request(b)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.request(b)
	}
}

// BenchmarkIdleConnHeap reports the live Go heap per idle accepted TCP
// connection (the engine's share of the RSS-per-connection metric).
func BenchmarkIdleConnHeap(b *testing.B) {
	const n = 5000
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) != nil || lim.Cur < 2*n+100 {
		b.Skip("RLIMIT_NOFILE too low")
	}
	for i := 0; i < b.N; i++ {
		m, err := NewManager(func(*Conn, Event, any) Result { return ResultOK },
			Options{Limits: DefaultLimits()})
		if err != nil {
			b.Fatal(err)
		}
		l, _ := m.Listen("tcp://127.0.0.1:0", ListenOptions{})
		sa := &unix.SockaddrInet4{Port: l.LocalAddr().Port, Addr: [4]byte{127, 0, 0, 1}}
		fds := make([]int, 0, n)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for len(fds) < n {
			for j := 0; j < 64 && len(fds) < n; j++ {
				fd, _ := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
				if err := unix.Connect(fd, sa); err != nil {
					b.Fatal(err)
				}
				fds = append(fds, fd)
			}
			for m.nextID < uint64(len(fds))+2 {
				m.Poll(10)
			}
		}
		m.Poll(0)
		runtime.ReadMemStats(&after)
		total := after.TotalAlloc - before.TotalAlloc
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "live-B/conn")
		b.ReportMetric(float64(total)/n, "alloc-B/conn")
		m.Close()
		for _, fd := range fds {
			unix.Close(fd)
		}
	}
}
