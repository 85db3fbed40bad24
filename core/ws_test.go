package core

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// wsPeer is a raw WebSocket peer over a net.Conn (the test side).
type wsPeer struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
}

const wsTestKey = "dGhlIHNhbXBsZSBub25jZQ=="

func upgradeReq(extra string) string {
	return "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\n" + extra + "\r\n"
}

// dialWS connects and writes first (raw bytes), in a goroutine; the test
// polls the manager until the connection is there.
func dialWS(h *harness, addr, first string) *wsPeer {
	h.t.Helper()
	ch := make(chan net.Conn, 1)
	go func() {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			ch <- nil
			return
		}
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		conn.Write([]byte(first))
		ch <- conn
	}()
	conn := recv(h, "dial", ch)
	if conn == nil {
		h.t.Fatal("dial failed")
	}
	h.t.Cleanup(func() { conn.Close() })
	return &wsPeer{t: h.t, conn: conn, br: bufio.NewReader(conn)}
}

// readHead reads a response head, polling h meanwhile.
func (p *wsPeer) readHead(h *harness) string {
	ch := make(chan string, 1)
	go func() {
		var b strings.Builder
		for {
			line, err := p.br.ReadString('\n')
			b.WriteString(line)
			if err != nil || line == "\r\n" {
				ch <- b.String()
				return
			}
		}
	}()
	return recv(h, "response head", ch)
}

type wsFrameRec struct {
	b0   byte
	data []byte
	err  error
}

// readFrame reads one frame, polling h meanwhile.
func (p *wsPeer) readFrame(h *harness) wsFrameRec {
	ch := make(chan wsFrameRec, 1)
	go func() {
		var hdr []byte
		for {
			b, err := p.br.ReadByte()
			if err != nil {
				ch <- wsFrameRec{err: err}
				return
			}
			hdr = append(hdr, b)
			fh, ok, e := parseWSHeader(hdr)
			if e != "" {
				ch <- wsFrameRec{err: fmt.Errorf("%s", e)}
				return
			}
			if ok {
				data := make([]byte, fh.plen)
				if _, err := io.ReadFull(p.br, data); err != nil {
					ch <- wsFrameRec{err: err}
					return
				}
				if fh.masked {
					wsMask(data, fh.mask, 0)
				}
				ch <- wsFrameRec{b0: fh.b0, data: data}
				return
			}
		}
	}()
	return recv(h, "frame", ch)
}

// readEOF polls until the peer sees end-of-file (or an error).
func (p *wsPeer) readEOF(h *harness) {
	ch := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(p.br)
		ch <- err
	}()
	recv(h, "eof", ch)
}

// frame builds a client frame: b0 raw, masked with a fixed key unless unmasked.
func clientFrame(b0 byte, payload []byte, masked bool) []byte {
	var q iobuf
	appendWSFrame(&q, payload, 0, masked)
	out := append([]byte(nil), q.data()...)
	out[0] = b0
	return out
}

func (p *wsPeer) write(b []byte) {
	go p.conn.Write(append([]byte(nil), b...))
}

// wsEchoServer: HTTP listener that upgrades every request and echoes
// messages with their opcode.
func wsEchoServer(t testing.TB, lim *Limits, extra []byte) (*harness, string) {
	var h *harness
	h = newHarness(t, lim, func(c *Conn, ev Event, data any) Result {
		switch ev {
		case EvHTTPMsg:
			c.WSUpgrade(data.(*HTTPMessage), extra)
		case EvWSMsg:
			m := data.(*WSMessage)
			c.WSSend(m.Data, int(m.Flags&0x0f))
		}
		return ResultOK
	})
	_, addr := h.listen(true)
	return h, addr
}

func TestWSUpgradeHandshake(t *testing.T) {
	var openNested, wsAtOpen bool
	var proto string
	inMsg := false
	var h *harness
	h = newHarness(t, nil, func(c *Conn, ev Event, data any) Result {
		switch ev {
		case EvHTTPMsg:
			inMsg = true
			c.WSUpgrade(data.(*HTTPMessage), []byte("X-A: 1\r\nSec-WebSocket-Protocol: superchat\r\nX-B: 2\r\n"))
			inMsg = false
		case EvWSOpen:
			openNested = inMsg
			wsAtOpen = c.IsWebsocket()
			v, _ := data.(*HTTPMessage).Header("Sec-WebSocket-Protocol")
			proto = string(v)
		}
		return ResultOK
	})
	_, addr := h.listen(true)
	p := dialWS(h, addr, upgradeReq("Sec-WebSocket-Key: "+wsTestKey+"\r\nSec-WebSocket-Protocol: chat, superchat\r\n"))
	head := p.readHead(h)
	want := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nX-A: 1\r\nSec-WebSocket-Protocol: superchat\r\nX-B: 2\r\n\r\n"
	if head != want {
		t.Fatalf("head %q", head)
	}
	if !openNested || !wsAtOpen || proto != "chat, superchat" {
		t.Fatalf("nested=%v ws=%v proto=%q", openNested, wsAtOpen, proto)
	}
	var sc *Conn
	for _, r := range h.log {
		if r.ev == EvWSOpen {
			sc = r.c
		}
	}
	got := h.events(sc)
	want2 := evs(EvOpen, EvAccept, EvHTTPHdrs, EvHTTPMsg, EvWSOpen, EvRead)
	if len(got) < len(want2) || !sameEvents(got[:len(want2)], want2) {
		t.Fatalf("events %v", got)
	}
	p.write(clientFrame(0x81, []byte("hello"), true))
	h.until("ws msg", func() bool { return h.count(sc, EvWSMsg) == 1 })
	if sc.RecvLen() != 0 || sc.IsHTTP() {
		t.Fatalf("recv_len %d http %v", sc.RecvLen(), sc.IsHTTP())
	}
}

// The 101 names at most one subprotocol: the handler's choice among the
// offered ones, else none; a value the client did not offer is refused
// before anything is queued.
func TestWSUpgradeSubprotocolChoice(t *testing.T) {
	var errs []error
	h := newHarness(t, nil, replyOn(EvHTTPMsg, func(c *Conn, m *HTTPMessage) {
		extra, _ := m.Header("X-Choose")
		var line []byte
		if len(extra) > 0 {
			line = []byte("Sec-WebSocket-Protocol: " + string(extra) + "\r\n")
		}
		err := c.WSUpgrade(m, line)
		errs = append(errs, err)
		if err != nil {
			c.Reply(400, []byte{}, []byte(err.Error()))
		}
	}))
	_, addr := h.listen(true)
	offer := "Sec-WebSocket-Key: " + wsTestKey + "\r\nSec-WebSocket-Protocol: chat, superchat\r\n"
	accept := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
	for _, tc := range []struct{ req, want string }{
		{offer, accept + "\r\n"},
		{offer + "X-Choose: chat\r\n", accept + "Sec-WebSocket-Protocol: chat\r\n\r\n"},
		{"Sec-WebSocket-Key: " + wsTestKey + "\r\nSec-WebSocket-Protocol: a\r\nSec-WebSocket-Protocol: b , c\r\nX-Choose: c\r\n",
			accept + "Sec-WebSocket-Protocol: c\r\n\r\n"},
	} {
		p := dialWS(h, addr, upgradeReq(tc.req))
		if head := p.readHead(h); head != tc.want {
			t.Fatalf("head %q\nwant %q", head, tc.want)
		}
	}
	for _, choose := range []string{"other", "chat, superchat", "Chat"} {
		p := dialWS(h, addr, upgradeReq(offer+"X-Choose: "+choose+"\r\n"))
		if head := p.readHead(h); !strings.HasPrefix(head, "HTTP/1.1 400 ") {
			t.Fatalf("choice %q: head %q", choose, head)
		}
		if errs[len(errs)-1] != ErrWSProtocol {
			t.Fatalf("choice %q: err %v", choose, errs[len(errs)-1])
		}
	}
}

func TestWSUpgradeNoKey(t *testing.T) {
	h := newHarness(t, nil, replyOn(EvHTTPMsg, func(c *Conn, m *HTTPMessage) { c.WSUpgrade(m, []byte("X-A: 1\r\n")) }))
	_, addr := h.listen(true)
	res := recv(h, "426", rawClient(addr, []byte(upgradeReq("")), false))
	want := "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 20         \r\n\r\nWS upgrade expected\n"
	if string(res.data) != want {
		t.Fatalf("got %q", res.data)
	}
	for _, r := range h.log {
		if r.ev == EvWSOpen {
			t.Fatal("WS_OPEN on 426")
		}
	}
}

func TestWSEchoFrames(t *testing.T) {
	h, addr := wsEchoServer(t, nil, nil)
	// The upgrade and the first frame in one packet.
	p := dialWS(h, addr, upgradeReq("Sec-WebSocket-Key: "+wsTestKey+"\r\n")+string(clientFrame(0x81, []byte("first"), true)))
	p.readHead(h)
	if f := p.readFrame(h); f.b0 != 0x81 || string(f.data) != "first" {
		t.Fatalf("frame %x %q %v", f.b0, f.data, f.err)
	}
	for _, n := range []int{0, 125, 126, 65535, 65536, 4 << 20} {
		payload := bytes.Repeat([]byte{0, 'x', 0xff}, n/3+1)[:n]
		p.write(clientFrame(0x82, payload, true))
		f := p.readFrame(h)
		if f.err != nil || f.b0 != 0x82 || !bytes.Equal(f.data, payload) {
			t.Fatalf("size %d: b0 %x len %d err %v", n, f.b0, len(f.data), f.err)
		}
	}
}

func TestWSFragmentsPingClose(t *testing.T) {
	var msgs []WSMessage
	var order []Event
	h := newHarness(t, nil, func(c *Conn, ev Event, data any) Result {
		switch ev {
		case EvHTTPMsg:
			c.WSUpgrade(data.(*HTTPMessage), nil)
		case EvWSMsg:
			m := data.(*WSMessage)
			msgs = append(msgs, WSMessage{append([]byte(nil), m.Data...), m.Flags})
		}
		if ev >= EvWSMsg && ev <= EvWSCtl {
			if data != nil && ev == EvWSCtl {
				t.Errorf("WS_CTL with data %v", data)
			}
			order = append(order, ev)
		}
		return ResultOK
	})
	_, addr := h.listen(true)
	p := dialWS(h, addr, upgradeReq("Sec-WebSocket-Key: "+wsTestKey+"\r\n"))
	p.readHead(h)
	var b []byte
	b = append(b, clientFrame(0x01, []byte("ab"), true)...)
	b = append(b, clientFrame(0x89, []byte("pp"), true)...) // ping between fragments
	b = append(b, clientFrame(0x00, []byte("cd"), true)...)
	b = append(b, clientFrame(0x80, []byte("ef"), true)...)
	p.write(b)
	if f := p.readFrame(h); f.b0 != 0x8a || string(f.data) != "pp" {
		t.Fatalf("pong %x %q", f.b0, f.data)
	}
	h.until("message", func() bool { return len(msgs) == 1 })
	if string(msgs[0].Data) != "abcdef" || msgs[0].Flags != 0x01 {
		t.Fatalf("msg %q %x", msgs[0].Data, msgs[0].Flags)
	}
	if !sameEvents(order, evs(EvWSCtl, EvWSCtl, EvWSCtl, EvWSMsg)) {
		t.Fatalf("order %v", order)
	}
	p.write(clientFrame(0x88, []byte{3, 0xe8, 'b', 'y', 'e'}, true))
	if f := p.readFrame(h); f.b0 != 0x88 || string(f.data) != "\x03\xe8bye" {
		t.Fatalf("close echo %x %q", f.b0, f.data)
	}
	p.readEOF(h)
	h.until("closed", func() bool {
		for _, r := range h.log {
			if r.ev == EvClose && r.c.IsWebsocket() {
				return true
			}
		}
		return false
	})
}

func TestWSMalformed(t *testing.T) {
	cases := []struct {
		name  string
		frame []byte
		text  string
	}{
		{"unmasked", clientFrame(0x81, []byte("x"), false), "unmasked WS frame from client"},
		{"unknown op", clientFrame(0x83, []byte("x"), true), "unknown WS op 3"},
		{"reserved", clientFrame(0xc1, []byte("x"), true), "WS reserved bits set"},
		{"long ping", clientFrame(0x89, make([]byte, 126), true), "WS control frame too long"},
		{"fragmented ping", clientFrame(0x09, []byte("x"), true), "fragmented WS control frame"},
		{"bad length", []byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}, "bad WS frame length"},
		{"lone continuation", clientFrame(0x80, []byte("x"), true), "unexpected WS continuation frame"},
		{"too big", clientFrame(0x82, make([]byte, 2000), true), "MG_MAX_RECV_SIZE"},
		{"too big fragmented", append(clientFrame(0x02, make([]byte, 600), true),
			clientFrame(0x80, make([]byte, 600), true)...), "MG_MAX_RECV_SIZE"},
	}
	lim := DefaultLimits()
	lim.MaxMessageSize = 1000
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, addr := wsEchoServer(t, &lim, nil)
			p := dialWS(h, addr, upgradeReq("Sec-WebSocket-Key: "+wsTestKey+"\r\n"))
			p.readHead(h)
			p.write(tc.frame)
			p.readEOF(h)
			var errText string
			h.until("close", func() bool {
				for _, r := range h.log {
					if r.ev == EvError {
						errText = r.data.(string)
					}
					if r.ev == EvClose && r.c.IsWebsocket() {
						return true
					}
				}
				return false
			})
			if errText != tc.text {
				t.Fatalf("error %q, want %q", errText, tc.text)
			}
		})
	}
}

func TestWSClientAgainstOwnServer(t *testing.T) {
	var got []string
	var clientOpen, serverMasked bool
	var h *harness
	h = newHarness(t, nil, func(c *Conn, ev Event, data any) Result {
		switch ev {
		case EvHTTPMsg:
			m := data.(*HTTPMessage)
			if string(m.URIBytes()) != "/path" || string(m.QueryBytes()) != "a=1" {
				t.Errorf("uri %q", m.String())
			}
			c.WSUpgrade(m, nil)
		case EvWSOpen:
			if c.IsClient() {
				clientOpen = data.(*HTTPMessage).Status() == 101
				c.WSSend([]byte("hi"), WSOpText)
				c.WSSend(bytes.Repeat([]byte("z"), 70000), WSOpBinary)
			}
		case EvWSMsg:
			m := data.(*WSMessage)
			if c.IsClient() {
				got = append(got, fmt.Sprintf("%x:%d", m.Flags, len(m.Data)))
			} else {
				serverMasked = true // the server engine rejects unmasked frames
				c.WSSend(m.Data, int(m.Flags&0x0f))
			}
		}
		return ResultOK
	})
	_, addr := h.listen(true)
	c, err := h.m.WSConnect("ws://"+addr+"/path?a=1", ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(c.SendData()), "GET /path?a=1 HTTP/1.1\r\nUpgrade: websocket\r\nHost: 127.0.0.1\r\n"+
		"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ") {
		t.Fatalf("request %q", c.SendData())
	}
	h.until("echo", func() bool { return len(got) == 2 })
	if !clientOpen || !serverMasked || !c.IsWebsocket() || got[0] != "81:2" || got[1] != "82:70000" {
		t.Fatalf("open %v masked %v got %v", clientOpen, serverMasked, got)
	}
}

func TestWSClientHandshakeErrors(t *testing.T) {
	for _, tc := range []struct{ resp, text string }{
		{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "ws handshake error"},
		{"SSH-2.0-x\x01\r\n\r\n", "not http"},
		{"hello world\r\n\r\n", "not http"},
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
			bufio.NewReader(conn).ReadString('\n')
			conn.Write([]byte(tc.resp))
			time.Sleep(2 * time.Second) // keep open: the client must decide on the head alone
		}()
		h := newHarness(t, nil, nil)
		c, _ := h.m.WSConnect("ws://"+ln.Addr().String(), ConnectOptions{})
		h.until("close", func() bool { return h.count(c, EvClose) == 1 })
		ln.Close()
		var text string
		for _, r := range h.log {
			if r.ev == EvError {
				text = r.data.(string)
			}
		}
		if text != tc.text || h.count(c, EvWSOpen) != 0 {
			t.Fatalf("%q: error %q", tc.resp, text)
		}
	}
}

func TestWSSendFormat(t *testing.T) {
	var q iobuf
	appendWSFrame(&q, []byte("abc"), WSOpText, false)
	if string(q.data()) != "\x81\x03abc" {
		t.Fatalf("%q", q.data())
	}
	for _, n := range []int{0, 125, 126, 65535, 65536, 100000} {
		q = iobuf{}
		payload := bytes.Repeat([]byte{7, 0, 9}, n/3+1)[:n]
		appendWSFrame(&q, payload, WSOpBinary, true)
		h, ok, e := parseWSHeader(q.data())
		if !ok || e != "" || !h.masked || h.plen != uint64(n) || h.b0 != 0x82 {
			t.Fatalf("n=%d: %+v %v %q", n, h, ok, e)
		}
		data := q.data()[h.hlen:]
		wsMask(data, h.mask, 0)
		if !bytes.Equal(data, payload) {
			t.Fatalf("n=%d: payload differs", n)
		}
	}
	// wsMask with an offset matches byte-wise masking.
	key := [4]byte{1, 2, 3, 4}
	for pos := 0; pos < 4; pos++ {
		p := bytes.Repeat([]byte{0xaa}, 37)
		wsMask(p, key, pos)
		for i := range p {
			if p[i] != 0xaa^key[(i+pos)&3] {
				t.Fatalf("pos %d byte %d", pos, i)
			}
		}
	}
}

// FuzzWSFrame runs the WebSocket engine (server and client side) over
// arbitrary input without sockets: it must never panic, never deliver more
// payload than it was given, and every frame it accepts must re-encode.
func FuzzWSFrame(f *testing.F) {
	seeds := [][]byte{
		clientFrame(0x81, []byte("hello"), true),
		clientFrame(0x82, make([]byte, 300), true),
		append(clientFrame(0x01, []byte("ab"), true), clientFrame(0x80, []byte("cd"), true)...),
		clientFrame(0x89, []byte("p"), true),
		clientFrame(0x88, []byte{3, 0xe8}, true),
		clientFrame(0x81, []byte("x"), false),
		{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1},
		{0x82, 0x7e, 0xff},
		[]byte("HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x02hi"),
	}
	for _, s := range seeds {
		f.Add(s, byte(0))
		f.Add(s, byte(1))
	}
	var delivered int
	m, err := NewManager(func(c *Conn, ev Event, data any) Result {
		if wm, ok := data.(*WSMessage); ok {
			delivered += len(wm.Data)
		}
		return ResultOK
	}, Options{Limits: Limits{MaxMessageSize: 1 << 16, MaxHeadSize: 4096}})
	if err != nil {
		f.Fatal(err)
	}
	defer m.Close()
	f.Fuzz(func(t *testing.T, data []byte, mode byte) {
		// Header parser: consistent with the engine's framing.
		if h, ok, e := parseWSHeader(data); ok {
			if e != "" || h.hlen < 2 || h.hlen > 14 || h.hlen > len(data) {
				t.Fatalf("header %+v %q", h, e)
			}
			if h.op() >= 8 && (h.plen > 125 || !h.fin()) {
				t.Fatalf("bad control frame accepted: %+v", h)
			}
		}
		c := m.newConn(-1)
		w := &wsConn{server: mode&1 == 0, handshake: mode&2 != 0}
		w.msg.Headers = w.hdrs[:0]
		c.setProtocol(w)
		c.setTo(fClient, !w.server)
		c.recv.write(data)
		delivered = 0
		w.onRead(m, c)
		if delivered > len(data) {
			t.Fatalf("delivered %d bytes from %d", delivered, len(data))
		}
		if c.recv.len() > len(data) {
			t.Fatal("receive buffer grew")
		}
		c.Close()
	})
}
