package core

import (
	"net"
	"os"
	"strings"
	"testing"
)

// hostsLoopbackName finds a name for 127.0.0.1 in /etc/hosts other than
// localhost, so that a lookup needs no network.
func hostsLoopbackName() string {
	b, err := os.ReadFile("/etc/hosts")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "127.0.0.1" {
			continue
		}
		for _, n := range f[1:] {
			if !strings.EqualFold(n, "localhost") && !strings.HasPrefix(n, "#") {
				return n
			}
		}
	}
	return ""
}

func TestConnectRefused(t *testing.T) {
	var errText string
	h := newHarness(t, nil, func(c *Conn, ev Event, data any) Result {
		if ev == EvError {
			errText = data.(string)
		}
		return ResultOK
	})
	l, addr := h.listen(false)
	l.Close()
	c, err := h.m.Connect("tcp://"+addr, ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := h.events(c); !sameEvents(got, evs(EvOpen, EvResolve)) {
		t.Fatalf("synchronous events %v", got)
	}
	h.until("close", c.IsClosed)
	want := evs(EvOpen, EvResolve, EvError, EvClose)
	if got := h.events(c); !sameEvents(got, want) || errText != "socket error" {
		t.Fatalf("events %v error %q", got, errText)
	}
	if _, err := h.m.Connect("", ConnectOptions{}); err == nil {
		t.Fatal("empty URL accepted")
	}
}

func exchange(t *testing.T, h *harness, url string, l *Conn) {
	t.Helper()
	var serverGot string
	h.on = func(c *Conn, ev Event, data any) Result {
		switch {
		case ev == EvConnect && c.IsClient():
			c.Send([]byte("hi"))
		case ev == EvRead && c.Parent() == l:
			serverGot = string(c.RecvData())
		}
		return ResultOK
	}
	c, _ := h.m.Connect(url, ConnectOptions{})
	if !c.IsClient() {
		t.Fatal("not a client")
	}
	h.until("server read", func() bool { return serverGot == "hi" })
	want := evs(EvOpen, EvResolve, EvConnect, EvWrite)
	if got := h.events(c); !sameEvents(got, want) {
		t.Fatalf("client events %v", got)
	}
	if c.RemoteAddr().Port != l.LocalAddr().Port || c.LocalAddr().Port == 0 {
		t.Fatalf("addrs %v %v", c.LocalAddr(), c.RemoteAddr())
	}
	a := h.accepted(l)[0]
	if a.LocalAddr().Port != l.LocalAddr().Port || a.RemoteAddr().Port != c.LocalAddr().Port {
		t.Fatalf("accepted addrs %v %v", a.LocalAddr(), a.RemoteAddr())
	}
	c.Close()
	h.until("server close", a.IsClosed)
}

func TestConnectLocalhost(t *testing.T) {
	h := newHarness(t, nil, nil)
	l, addr := h.listen(false)
	exchange(t, h, "tcp://localhost:"+strings.Split(addr, ":")[1], l)
}

func TestIPv6Loopback(t *testing.T) {
	h := newHarness(t, nil, nil)
	l, err := h.m.Listen("tcp://[::1]:0", ListenOptions{})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	if !l.LocalAddr().IPv6 || !l.LocalAddr().IP.Equal(net.IPv6loopback) {
		t.Fatalf("local %v", l.LocalAddr())
	}
	exchange(t, h, "tcp://[::1]:"+itoa(l.LocalAddr().Port), l)
}

func TestConnectHostNameResolvesLater(t *testing.T) {
	h := newHarness(t, nil, nil)
	l, addr := h.listen(false)
	port := strings.Split(addr, ":")[1]
	name := hostsLoopbackName()
	if name == "" {
		t.Skip("no loopback name other than localhost in /etc/hosts")
	}
	// Not the literal shortcut: it goes through the resolver in a goroutine.
	c, _ := h.m.Connect("tcp://"+name+":"+port, ConnectOptions{})
	if got := h.events(c); !sameEvents(got, evs(EvOpen)) {
		t.Fatalf("synchronous events %v", got)
	}
	h.until("connect", func() bool { return h.count(c, EvConnect) == 1 || c.IsClosed() })
	if got := h.events(c); !sameEvents(got, evs(EvOpen, EvResolve, EvConnect)) {
		t.Fatalf("events %v", got)
	}
	_ = l
}

func TestDNSFailureEvents(t *testing.T) {
	var errText string
	h := newHarness(t, nil, func(c *Conn, ev Event, data any) Result {
		if ev == EvError {
			errText = data.(string)
		}
		return ResultOK
	})
	c := h.m.newConn(-1)
	c.set(fClient)
	c.set(fResolving)
	h.m.post(func() { h.m.dnsQ = append(h.m.dnsQ, dnsAnswer{id: c.id, host: "nowhere.invalid", err: true}) })
	h.pollOnce(0)
	if !strings.Contains(errText, "DNS") || !sameEvents(h.events(c), evs(EvError, EvClose)) {
		t.Fatalf("error %q events %v", errText, h.events(c))
	}
}

func TestHTTPClientParsesResponses(t *testing.T) {
	var bodies []string
	var statuses []int
	h := newHarness(t, nil, nil)
	l, addr := h.listen(true)
	h.on = func(c *Conn, ev Event, data any) Result {
		switch {
		case ev == EvHTTPMsg && c.Parent() == l:
			switch string(data.(*HTTPMessage).URIBytes()) {
			case "/a":
				c.Reply(201, nil, []byte("first"))
			case "/b":
				c.Send([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"))
				c.Reply(0, nil, nil) // finishes the response state; bytes below are ignored by the client
			case "/c":
				c.Send([]byte("HTTP/1.1 200 OK\r\n\r\nuntil close"))
				c.Drain()
			}
		case ev == EvConnect:
			c.Send([]byte("GET /a HTTP/1.1\r\n\r\n"))
		case ev == EvHTTPMsg && c.IsClient():
			msg := data.(*HTTPMessage)
			bodies = append(bodies, string(msg.Body))
			statuses = append(statuses, msg.Status())
			if len(bodies) == 1 {
				c.Send([]byte("GET /c HTTP/1.1\r\n\r\n"))
			}
		}
		return ResultOK
	}
	c, _ := h.m.Connect("http://"+addr, ConnectOptions{HTTP: true})
	h.until("client close", c.IsClosed)
	if strings.Join(bodies, "|") != "first|until close" || statuses[0] != 201 {
		t.Fatalf("bodies %q statuses %v events %v", bodies, statuses, h.events(c))
	}
	ev := h.events(c)
	if ev[len(ev)-2] != EvHTTPMsg || ev[len(ev)-1] != EvClose {
		t.Fatalf("close-delimited MSG must come right before CLOSE: %v", ev)
	}
}
