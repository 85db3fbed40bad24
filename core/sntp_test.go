package core

import (
	"net"
	"testing"
	"time"
)

// sntpReply builds a server reply: version, mode and stratum as given,
// origin echoed from req, receive and transmit = serverMs.
func sntpReply(req []byte, version, mode, stratum byte, serverMs int64) []byte {
	b := make([]byte, 48)
	b[0] = version<<3 | mode
	b[1] = stratum
	if req != nil {
		copy(b[24:32], req[40:48])
	}
	putNTPTime(b[32:40], serverMs)
	putNTPTime(b[40:48], serverMs)
	return b
}

func TestSNTPPacketRoundTrip(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 250e6, time.UTC).UnixMilli()
	req := SNTPRequestPacket(now)
	if len(req) != 48 || req[0] != 0x23 {
		t.Fatalf("request header %x", req[:4])
	}
	if got, ok := ntpTime(req[40:48]); !ok || got != now {
		t.Fatalf("transmit timestamp %d, want %d", got, now)
	}
	// Era 1 (after 2036-02-07) wraps the 32-bit seconds.
	later := time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	var b [8]byte
	putNTPTime(b[:], later)
	if got, _ := ntpTime(b[:]); got != later {
		t.Fatalf("era 1: %d, want %d", got, later)
	}
}

func TestSNTPParseValidation(t *testing.T) {
	const server = int64(1_900_000_000_000)
	sent := int64(1_800_000_000_000)
	req := SNTPRequestPacket(sent)
	// 100 ms round trip, server processing time 0: half is added.
	if ms, ok := SNTPParse(sntpReply(req, 4, 4, 1, server), sent+100, sent); !ok || ms != server+50 {
		t.Fatalf("valid v4 reply: %d %v", ms, ok)
	}
	if ms, ok := SNTPParse(sntpReply(req, 3, 5, 2, server), sent+100, sent); !ok || ms != server+50 {
		t.Fatalf("valid v3 broadcast: %d %v", ms, ok)
	}
	// Origin not echoed: the recorded send time is used.
	if ms, ok := SNTPParse(sntpReply(nil, 4, 4, 1, server), sent+40, sent); !ok || ms != server+20 {
		t.Fatalf("no origin: %d %v", ms, ok)
	}
	// Nothing known about the request: no correction.
	if ms, ok := SNTPParse(sntpReply(nil, 4, 4, 1, server), sent+40, 0); !ok || ms != server {
		t.Fatalf("no origin, no send time: %d %v", ms, ok)
	}
	bad := map[string][]byte{
		"short":         sntpReply(req, 4, 4, 1, server)[:47],
		"client mode":   sntpReply(req, 4, 3, 1, server),
		"kiss of death": sntpReply(req, 4, 4, 0, server),
		"version 2":     sntpReply(req, 2, 4, 1, server),
		"version 5":     sntpReply(req, 5, 4, 1, server),
		"no transmit":   append(sntpReply(req, 4, 4, 1, server)[:40], make([]byte, 8)...),
	}
	for name, pkt := range bad {
		if ms, ok := SNTPParse(pkt, sent+100, sent); ok {
			t.Errorf("%s accepted: %d", name, ms)
		}
	}
	// Longer packets (extension fields, MAC) are fine.
	long := append(sntpReply(req, 4, 4, 1, server), make([]byte, 20)...)
	if _, ok := SNTPParse(long, sent+100, sent); !ok {
		t.Error("68-byte reply rejected")
	}
}

func FuzzSNTPParse(f *testing.F) {
	req := SNTPRequestPacket(1_800_000_000_000)
	f.Add(sntpReply(req, 4, 4, 1, 1_900_000_000_000), int64(1_800_000_000_100), int64(1_800_000_000_000))
	f.Add([]byte{}, int64(0), int64(0))
	f.Add(make([]byte, 48), int64(-1), int64(-5))
	f.Fuzz(func(t *testing.T, b []byte, now, sent int64) {
		ms, ok := SNTPParse(b, now, sent)
		if ok && ms <= 0 {
			t.Fatalf("non-positive result %d accepted", ms)
		}
		if ok && len(b) < 48 {
			t.Fatal("short packet accepted")
		}
	})
}

// sntpServer answers every request on a loopback UDP socket with serverMs.
func sntpServer(t *testing.T, serverMs func() int64) (addr string, got <-chan []byte) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	ch := make(chan []byte, 16)
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			req := append([]byte(nil), buf[:n]...)
			ch <- req
			if n >= 48 {
				pc.WriteTo(sntpReply(req, 4, 4, 2, serverMs()), from)
			}
		}
	}()
	return pc.LocalAddr().String(), ch
}

func TestSNTPConnectEvents(t *testing.T) {
	const offset = 3_600_000 // the server's clock is an hour ahead
	addr, reqs := sntpServer(t, func() int64 { return time.Now().UnixMilli() + offset })
	var got []int64
	h := newHarness(t, nil, func(c *Conn, ev Event, data any) Result {
		if ev == EvSNTPTime {
			got = append(got, data.(int64))
		}
		return ResultOK
	})
	c, err := h.m.SNTPConnect("udp://"+addr, ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// IP literal: the request is sent inside the call, before EvConnect.
	if ev := h.events(c); !sameEvents(ev, evs(EvOpen, EvResolve, EvWrite, EvConnect)) {
		t.Fatalf("synchronous events %v", ev)
	}
	req := recv(h, "request", reqs)
	if len(req) != 48 || req[0] != 0x23 {
		t.Fatalf("request %x", req)
	}
	h.until("close", c.IsClosed)
	want := evs(EvOpen, EvResolve, EvWrite, EvConnect, EvSNTPTime, EvRead, EvClose)
	if ev := h.events(c); !sameEvents(ev, want) {
		t.Fatalf("events %v", h.summary(c))
	}
	if d := time.Now().UnixMilli() + offset - got[0]; len(got) != 1 || d < -1000 || d > 1000 {
		t.Fatalf("time %v, off by %d ms", got, d)
	}
}

func TestSNTPLifetime(t *testing.T) {
	// Nobody answers: the connection closes by itself after 3 s.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	h := newHarness(t, nil, nil)
	c, _ := h.m.SNTPConnect("udp://"+pc.LocalAddr().String(), ConnectOptions{})
	h.until("close", c.IsClosed)
	if ev := h.events(c); !sameEvents(ev, evs(EvOpen, EvResolve, EvWrite, EvConnect, EvClose)) {
		t.Fatalf("events %v", h.summary(c))
	}
}

func TestSNTPRequestWhileResolving(t *testing.T) {
	h := newHarness(t, nil, nil)
	c := h.m.newConn(-1)
	c.set(fClient | fUDP | fResolving)
	if err := c.SNTPRequest(); err != nil || len(h.events(c)) != 0 {
		t.Fatalf("err %v events %v", err, h.events(c))
	}
	c.Close()
	if err := c.SNTPRequest(); err != ErrConnClosed {
		t.Fatalf("closed: %v", err)
	}
}
