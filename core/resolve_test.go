package core

import (
	"strings"
	"testing"
)

func TestResolveRetargetsClient(t *testing.T) {
	h := newHarness(t, nil, nil)
	l, addr := h.listen(false)
	// A client whose first target refuses: resolve() points it elsewhere
	// before the refusal is noticed.
	dead, deadAddr := h.listen(false)
	dead.Close()
	c, _ := h.m.Connect("tcp://"+deadAddr, ConnectOptions{})
	c.Resolve("tcp://" + addr)
	if got := h.events(c); !sameEvents(got, evs(EvOpen, EvResolve, EvResolve)) {
		t.Fatalf("synchronous events %v", got)
	}
	h.until("connect", func() bool { return h.count(c, EvConnect) == 1 || c.IsClosed() })
	if c.IsClosed() || c.RemoteAddr().Port != l.LocalAddr().Port {
		t.Fatalf("events %v remote %v", h.summary(c), c.RemoteAddr())
	}
	h.until("accept", func() bool { return len(h.accepted(l)) == 1 })
}

func TestResolveHostNameAndCancel(t *testing.T) {
	name := hostsLoopbackName()
	if name == "" {
		t.Skip("no loopback name other than localhost in /etc/hosts")
	}
	h := newHarness(t, nil, nil)
	l, addr := h.listen(false)
	port := strings.Split(addr, ":")[1]
	c := h.m.newConn(-1)
	c.set(fClient)
	c.Resolve("tcp://" + name + ":" + port)
	if !c.IsResolving() || len(h.events(c)) != 0 {
		t.Fatalf("resolving %v events %v", c.IsResolving(), h.events(c))
	}
	h.until("connect", func() bool { return h.count(c, EvConnect) == 1 || c.IsClosed() })
	if got := h.events(c); !sameEvents(got, evs(EvResolve, EvConnect)) {
		t.Fatalf("events %v", h.summary(c))
	}
	h.until("accept", func() bool { return len(h.accepted(l)) == 1 })

	// A cancelled lookup delivers nothing, even when its answer arrives.
	d := h.m.newConn(-1)
	d.set(fClient)
	d.Resolve("tcp://" + name + ":" + port)
	d.ResolveCancel()
	seq := d.ext.dnsSeq
	h.m.post(func() { h.m.dnsQ = append(h.m.dnsQ, dnsAnswer{id: d.id, seq: seq - 1, host: name, err: true}) })
	for i := 0; i < 5; i++ {
		h.pollOnce(5)
	}
	if got := h.events(d); len(got) != 0 || d.IsClosed() || !d.IsResolving() {
		t.Fatalf("after cancel: events %v", h.summary(d))
	}
	d.Close()
	if got := h.events(d); !sameEvents(got, evs(EvClose)) {
		t.Fatalf("close: %v", got)
	}
}

func TestResolveOnListener(t *testing.T) {
	h := newHarness(t, nil, nil)
	l, err := h.m.Listen("udp://127.0.0.1:0", ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l.Resolve("udp://127.0.0.1:4242")
	if got := h.events(l); !sameEvents(got, evs(EvOpen, EvResolve)) || l.RemoteAddr().Port != 4242 || l.IsClosing() {
		t.Fatalf("events %v remote %v", got, l.RemoteAddr())
	}
	l.Resolve("udp://nonexistent.invalid:1")
	if got := h.events(l); !sameEvents(got, evs(EvOpen, EvResolve, EvError)) {
		t.Fatalf("events %v", h.summary(l))
	}
}
