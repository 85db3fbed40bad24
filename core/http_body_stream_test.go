package core

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/pymongoose-go/pymongoose-go/core/codec"
)

// streamApp is an adapter stand-in: it records the streamed requests and
// answers each with the length and SHA-256 of the body it received.
type streamApp struct {
	h          *harness
	heads      int
	pieces     int
	body       bytes.Buffer
	ends       []int
	noAck      bool // leave the consumption report to the test
	firstPiece int  // size of the first piece
	maxUnack   int  // highest BodyUnconsumed seen at a later piece
	maxRecv    int  // highest receive buffer length seen at a later piece
	first      chan struct{}
}

func newStreamApp(t *testing.T, lim *Limits, threshold int64, window int) *streamApp {
	a := &streamApp{first: make(chan struct{})}
	a.h = newHarness(t, lim, a.on)
	a.h.m.SetBodyStreaming(threshold, window)
	return a
}

func (a *streamApp) on(c *Conn, ev Event, data any) Result {
	switch ev {
	case EvHTTPBodyHead:
		a.heads++
		a.body.Reset()
	case EvHTTPBodyPiece:
		p := data.([]byte)
		if len(p) == 0 {
			panic("empty piece")
		}
		if a.pieces == 0 {
			close(a.first)
		}
		a.pieces++
		a.body.Write(p)
		a.maxUnack = max(a.maxUnack, c.BodyUnconsumed())
		a.maxRecv = max(a.maxRecv, c.RecvLen())
		if !a.noAck {
			c.BodyConsumed(len(p))
		}
	case EvHTTPBodyEnd:
		st := data.(int)
		a.ends = append(a.ends, st)
		if st == 0 {
			sum := sha256.Sum256(a.body.Bytes())
			c.Reply(200, nil, []byte(fmt.Sprintf("%d %x", a.body.Len(), sum)))
		}
	case EvHTTPMsg:
		c.Reply(200, nil, []byte("whole "+string(data.(*HTTPMessage).URIBytes())))
	}
	return ResultOK
}

func randomBody(n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(int64(n))).Read(b)
	return b
}

func digest(b []byte) string {
	return fmt.Sprintf("%d %x", len(b), sha256.Sum256(b))
}

// stagedClient writes first, waits for gate, writes rest, then reads until EOF
// or until want responses were read.
func stagedClient(addr string, first, rest []byte, gate <-chan struct{}, want int) <-chan clientResult {
	return goClient(addr, func(conn net.Conn) ([]byte, error) {
		if _, err := conn.Write(first); err != nil {
			return nil, err
		}
		if gate != nil {
			<-gate
		}
		if _, err := conn.Write(rest); err != nil {
			return nil, err
		}
		var out bytes.Buffer
		br := bufio.NewReader(io.TeeReader(conn, &out))
		for i := 0; i < want; i++ {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				return out.Bytes(), err
			}
			io.ReadAll(resp.Body)
		}
		return out.Bytes(), nil
	})
}

// expect100Client sends a head with Expect: 100-continue, waits for the
// 100, then sends body; its result is the response body.
func expect100Client(addr string, body []byte) <-chan clientResult {
	return goClient(addr, func(conn net.Conn) ([]byte, error) {
		fmt.Fprintf(conn, "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", len(body))
		br := bufio.NewReader(conn)
		line, err := br.ReadString('\n')
		if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
			return []byte(line), fmt.Errorf("interim %q %v", line, err)
		}
		br.ReadString('\n')
		conn.Write(body)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return nil, err
		}
		return []byte(bodyOf(resp)), nil
	})
}

func chunk(b []byte, size int) []byte {
	var out bytes.Buffer
	for len(b) > 0 {
		n := min(size, len(b))
		fmt.Fprintf(&out, "%x;ext=1\r\n", n)
		out.Write(b[:n])
		out.WriteString("\r\n")
		b = b[n:]
	}
	out.WriteString("0\r\nX-Trailer: t\r\n\r\n")
	return out.Bytes()
}

func TestBodyStreamContentLengthArrivesWhileSent(t *testing.T) {
	a := newStreamApp(t, nil, 1000, 1<<20)
	_, addr := a.h.listen(true)
	body := randomBody(3 << 20)
	head := fmt.Sprintf("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", len(body))
	// The second half is only sent once the application has a first piece.
	first := append([]byte(head), body[:len(body)/2]...)
	r := recv(a.h, "client", stagedClient(addr, first, body[len(body)/2:], a.first, 1))
	if r.err != nil {
		t.Fatal(r.err)
	}
	resp := readResponses(t, r.data, 1)[0]
	if got := bodyOf(resp); got != digest(body) {
		t.Fatalf("app got %q, want %q", got, digest(body))
	}
	if a.heads != 1 || a.pieces < 2 || len(a.ends) != 1 || a.ends[0] != 0 {
		t.Fatalf("heads %d pieces %d ends %v", a.heads, a.pieces, a.ends)
	}
}

func TestBodyStreamChunkedDechunked(t *testing.T) {
	a := newStreamApp(t, nil, 1<<30, 1<<20) // chunked streams whatever its size
	_, addr := a.h.listen(true)
	body := randomBody(700001)
	raw := chunk(body, 10007)
	head := "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	first := append([]byte(head), raw[:5]...) // a piece of the first chunk line
	r := recv(a.h, "client", stagedClient(addr, first, append(raw[5:], "GET /next HTTP/1.1\r\n\r\n"...), nil, 2))
	if r.err != nil {
		t.Fatal(r.err)
	}
	resps := readResponses(t, r.data, 2)
	if got := bodyOf(resps[0]); got != digest(body) {
		t.Fatalf("app got %q, want %q", got, digest(body))
	}
	if got := bodyOf(resps[1]); got != "whole /next" {
		t.Fatalf("pipelined request: %q", got)
	}
}

func TestBodyStreamSmallBodyStaysWhole(t *testing.T) {
	a := newStreamApp(t, nil, 1000, 1<<20)
	_, addr := a.h.listen(true)
	req := "POST /small HTTP/1.1\r\nContent-Length: 999\r\n\r\n" + strings.Repeat("a", 999)
	r := recv(a.h, "client", stagedClient(addr, []byte(req), nil, nil, 1))
	if got := bodyOf(readResponses(t, r.data, 1)[0]); got != "whole /small" || a.heads != 0 {
		t.Fatalf("got %q, streamed heads %d", got, a.heads)
	}
}

func TestBodyStreamWindowPausesReading(t *testing.T) {
	const window = 64 << 10
	a := newStreamApp(t, nil, 1000, window)
	a.noAck = true
	l, addr := a.h.listen(true)
	body := randomBody(8 << 20)
	req := append([]byte(fmt.Sprintf("POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n", len(body))), body...)
	ch := stagedClient(addr, req, nil, nil, 1)
	a.h.until("a full window", func() bool { return a.body.Len() >= window })
	c := a.h.accepted(l)[0]
	for i := 0; i < 50; i++ { // the client keeps sending; the engine must not read on
		a.h.pollOnce(2)
	}
	held := a.body.Len()
	if held > window || c.BodyUnconsumed() != held || c.RecvLen() > window {
		t.Fatalf("delivered %d bytes with nothing consumed (window %d), unconsumed %d", held, window, c.BodyUnconsumed())
	}
	// Consume as the pieces come: the upload completes.
	a.h.until("the response", func() bool {
		if n := c.BodyUnconsumed(); n > 0 {
			c.BodyConsumed(n)
		}
		select {
		case r := <-ch:
			if got := bodyOf(readResponses(t, r.data, 1)[0]); got != digest(body) {
				t.Fatalf("app got %q", got)
			}
			return true
		default:
			return false
		}
	})
	if a.maxUnack > window || a.maxRecv > window {
		t.Fatalf("unconsumed up to %d, receive buffer up to %d", a.maxUnack, a.maxRecv)
	}
}

func TestBodyStreamChunkedOverMaxBody(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxBodySize = 300000
	a := newStreamApp(t, &lim, 1000, 1<<20)
	_, addr := a.h.listen(true)
	// Exactly the limit, then the size line of one more chunk: refused at
	// that line with everything sent read (no reset overtakes the 413).
	raw := chunk(randomBody(300000), 50000)
	raw = append(raw[:bytes.LastIndex(raw, []byte("0\r\n"))], "10\r\n"...)
	head := "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	r := recv(a.h, "client", rawClient(addr, append([]byte(head), raw...), false))
	if !bytes.HasPrefix(r.data, []byte("HTTP/1.1 413 ")) || !bytes.Contains(r.data, headerConnClose) {
		t.Fatalf("response %q", trunc(r.data))
	}
	if len(a.ends) != 1 || a.ends[0] != 413 || a.body.Len() > 300000 {
		t.Fatalf("ends %v after %d bytes", a.ends, a.body.Len())
	}
}

func TestBodyStreamContentLengthOverMaxBodyRefusedBeforeHead(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxBodySize = 300000
	a := newStreamApp(t, &lim, 1000, 1<<20)
	_, addr := a.h.listen(true)
	r := recv(a.h, "client", rawClient(addr, []byte("POST / HTTP/1.1\r\nContent-Length: 300001\r\n\r\n"), false))
	if !bytes.HasPrefix(r.data, []byte("HTTP/1.1 413 ")) || a.heads != 0 {
		t.Fatalf("response %q, heads %d", trunc(r.data), a.heads)
	}
}

func TestBodyStreamBadChunkAfterHead(t *testing.T) {
	a := newStreamApp(t, nil, 1000, 1<<20)
	_, addr := a.h.listen(true)
	req := "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"
	r := recv(a.h, "client", rawClient(addr, []byte(req), false))
	if !bytes.HasPrefix(r.data, []byte("HTTP/1.1 400 ")) || len(a.ends) != 1 || a.ends[0] != 400 {
		t.Fatalf("response %q, ends %v", trunc(r.data), a.ends)
	}
}

func TestBodyStreamClientGoneMidBody(t *testing.T) {
	a := newStreamApp(t, nil, 1000, 1<<20)
	l, addr := a.h.listen(true)
	req := "POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + strings.Repeat("x", 5000)
	r := recv(a.h, "client", rawClient(addr, []byte(req), true))
	if r.err != nil || len(r.data) != 0 {
		t.Fatalf("client got %q (%v)", r.data, r.err)
	}
	a.h.until("close", func() bool { return h0(a.h.accepted(l)).IsClosed() })
	if len(a.ends) != 1 || a.ends[0] != BodyClientGone || a.body.Len() != 5000 {
		t.Fatalf("ends %v after %d bytes", a.ends, a.body.Len())
	}
}

func h0(cs []*Conn) *Conn { return cs[0] }

func TestBodyStreamExpect100OnFirstConsume(t *testing.T) {
	a := newStreamApp(t, nil, 1000, 1<<20)
	l, addr := a.h.listen(true)
	body := randomBody(50000)
	ch := expect100Client(addr, body)
	a.h.until("the head", func() bool { return a.heads == 1 })
	c := a.h.accepted(l)[0]
	for i := 0; i < 20; i++ {
		a.h.pollOnce(1)
	}
	if c.SendLen() != 0 || a.pieces != 0 {
		t.Fatalf("before the application asked: sent %q, pieces %d", c.SendData(), a.pieces)
	}
	c.BodyConsumed(0) // the application reads
	r := recv(a.h, "client", ch)
	if r.err != nil || string(r.data) != digest(body) {
		t.Fatalf("client: %q %v", r.data, r.err)
	}
}

func TestBodyStreamAnsweredEarlyThenKeepAlive(t *testing.T) {
	a := newStreamApp(t, nil, 1000, 1<<20)
	inner := a.h.on
	a.h.on = func(c *Conn, ev Event, data any) Result {
		if ev == EvHTTPBodyHead {
			c.Reply(201, nil, []byte("early"))
			return ResultOK
		}
		return inner(c, ev, data)
	}
	_, addr := a.h.listen(true)
	body := randomBody(400000)
	req := append([]byte(fmt.Sprintf("POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n", len(body))), body...)
	req = append(req, "GET /after HTTP/1.1\r\n\r\n"...)
	r := recv(a.h, "client", stagedClient(addr, req, nil, nil, 2))
	if r.err != nil {
		t.Fatal(r.err)
	}
	resps := readResponses(t, r.data, 2)
	if bodyOf(resps[0]) != "early" || bodyOf(resps[1]) != "whole /after" || a.pieces != 0 || len(a.ends) != 0 {
		t.Fatalf("responses %q %q, pieces %d ends %v", bodyOf(resps[0]), bodyOf(resps[1]), a.pieces, a.ends)
	}
}

func TestBodyStreamOffByDefault(t *testing.T) {
	h := newHarness(t, nil, replyOn(EvHTTPMsg, func(c *Conn, msg *HTTPMessage) {
		c.Reply(200, nil, []byte(digest(msg.Body)))
	}))
	_, addr := h.listen(true)
	body := randomBody(2 << 20)
	req := append([]byte(fmt.Sprintf("POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n", len(body))), body...)
	r := recv(h, "client", stagedClient(addr, req, nil, nil, 1))
	if got := bodyOf(readResponses(t, r.data, 1)[0]); got != digest(body) {
		t.Fatalf("got %q", got)
	}
	for _, e := range h.log {
		if e.ev < 0 {
			t.Fatalf("private event %d without streaming", e.ev)
		}
	}
}

// An application started within the head event (an eager asyncio task)
// asks for the body there: the 100 Continue goes out all the same.
func TestBodyStreamExpect100AskedInHeadEvent(t *testing.T) {
	a := newStreamApp(t, nil, 1000, 1<<20)
	inner := a.h.on
	a.h.on = func(c *Conn, ev Event, data any) Result {
		if ev == EvHTTPBodyHead {
			c.BodyConsumed(0)
		}
		return inner(c, ev, data)
	}
	_, addr := a.h.listen(true)
	body := randomBody(50000)
	ch := expect100Client(addr, body)
	r := recv(a.h, "client", ch)
	if r.err != nil || string(r.data) != digest(body) {
		t.Fatalf("client: %q %v", r.data, r.err)
	}
}

// A handler that fails in the head event gets the 500 of EvHTTPMsg, and
// the connection serves the next request once the body is dropped.
func TestBodyStreamHeadHandlerFails(t *testing.T) {
	a := newStreamApp(t, nil, 1000, 1<<20)
	inner := a.h.on
	a.h.on = func(c *Conn, ev Event, data any) Result {
		if ev == EvHTTPBodyHead {
			return ResultException
		}
		return inner(c, ev, data)
	}
	_, addr := a.h.listen(true)
	body := randomBody(300000)
	req := append([]byte(fmt.Sprintf("POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n", len(body))), body...)
	req = append(req, "GET /after HTTP/1.1\r\n\r\n"...)
	r := recv(a.h, "client", stagedClient(addr, req, nil, nil, 2))
	if r.err != nil {
		t.Fatal(r.err)
	}
	resps := readResponses(t, r.data, 2)
	if resps[0].StatusCode != 500 || bodyOf(resps[1]) != "whole /after" || a.pieces != 0 {
		t.Fatalf("status %d, then %q, pieces %d", resps[0].StatusCode, bodyOf(resps[1]), a.pieces)
	}
}

// FuzzBodyStreamChunked checks the streaming de-chunker against the
// whole-body one (scanChunks, dechunk): the same pieces, the same verdict,
// wherever the socket splits the body.
func FuzzBodyStreamChunked(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"), uint16(3))
	f.Add([]byte("a;ext=1\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n"), uint16(12))
	f.Add([]byte("4000\r\n"), uint16(0))
	f.Add([]byte("5\r\nhelloXX"), uint16(7))
	f.Add([]byte("zz\r\n"), uint16(1))
	f.Fuzz(func(t *testing.T, body []byte, split uint16) {
		if len(body) > 1<<16 {
			return
		}
		lim := DefaultLimits()
		lim.MaxBodySize = 1 << 12
		dlen, raw, st := codec.ScanChunks(body, lim.MaxBodySize)
		want := map[int]int{codec.ChunkDone: 0, codec.ChunkBad: 400, codec.ChunkTooBig: 413, codec.ChunkMore: BodyClientGone}[st]
		if st == codec.ChunkDone {
			body = body[:raw] // what follows would be the next request
		}
		a := newStreamApp(t, &lim, 1, minBodyWindow)
		_, addr := a.h.listen(true)
		cut := int(split) % (len(body) + 1)
		head := "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		recv(a.h, "client", rawClientSteps(addr, []string{head + string(body[:cut]), string(body[cut:])}, 0))
		if len(a.ends) == 0 || a.ends[0] != want {
			t.Fatalf("ends %v, want %d (scanChunks state %d)", a.ends, want, st)
		}
		if st == codec.ChunkDone {
			whole := append([]byte(nil), body...)
			whole = whole[:codec.Dechunk(whole)]
			if int64(len(whole)) != dlen || !bytes.Equal(a.body.Bytes(), whole) {
				t.Fatalf("streamed %q, whole %q", a.body.Bytes(), whole)
			}
		}
	})
}
