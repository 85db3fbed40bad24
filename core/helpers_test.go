package core

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// evRec is one dispatched event (POLL excluded from the log).
type evRec struct {
	c    *Conn
	ev   Event
	data any
	iter int // Process number
}

// harness runs a Manager on the test goroutine with a recording dispatcher.
type harness struct {
	t    testing.TB
	m    *Manager
	log  []evRec
	on   func(c *Conn, ev Event, data any) Result
	iter int
	poll bool // also log POLL
}

func newHarness(t testing.TB, lim *Limits, on func(c *Conn, ev Event, data any) Result) *harness {
	t.Helper()
	h := &harness{t: t, on: on}
	opts := Options{Limits: DefaultLimits()}
	if lim != nil {
		opts.Limits = *lim
	}
	m, err := NewManager(h.dispatch, opts)
	if err != nil {
		t.Fatal(err)
	}
	h.m = m
	t.Cleanup(m.Close)
	return h
}

func (h *harness) dispatch(c *Conn, ev Event, data any) Result {
	if ev != EvPoll || h.poll {
		d := data
		if msg, ok := data.(*HTTPMessage); ok {
			d = msg.String() // views are only valid during the event
		}
		h.log = append(h.log, evRec{c, ev, d, h.iter})
	}
	if h.on != nil {
		return h.on(c, ev, data)
	}
	return ResultOK
}

func (h *harness) pollOnce(ms int) bool {
	h.iter++
	return h.m.Poll(ms)
}

// until polls until cond holds (bounded: fails the test after 20 s).
func (h *harness) until(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timeout waiting for %s; events: %v", what, h.summary(nil))
		}
		h.pollOnce(5)
	}
}

// events returns the logged events of c, in order.
func (h *harness) events(c *Conn) []Event {
	var out []Event
	for _, r := range h.log {
		if r.c == c {
			out = append(out, r.ev)
		}
	}
	return out
}

func (h *harness) count(c *Conn, ev Event) int {
	n := 0
	for _, r := range h.log {
		if r.c == c && r.ev == ev {
			n++
		}
	}
	return n
}

func (h *harness) summary(c *Conn) string {
	var b strings.Builder
	for _, r := range h.log {
		if c == nil || r.c == c {
			fmt.Fprintf(&b, "[%d]%v", r.c.id, r.ev)
			if s, ok := r.data.(string); ok {
				fmt.Fprintf(&b, "(%q)", s)
			}
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// accepted returns the connections accepted by l so far.
func (h *harness) accepted(l *Conn) []*Conn {
	var out []*Conn
	for _, r := range h.log {
		if r.ev == EvAccept && r.c.parent == l {
			out = append(out, r.c)
		}
	}
	return out
}

func (h *harness) listen(http bool) (*Conn, string) {
	h.t.Helper()
	l, err := h.m.Listen("tcp://127.0.0.1:0", ListenOptions{HTTP: http})
	if err != nil {
		h.t.Fatal(err)
	}
	return l, fmt.Sprintf("127.0.0.1:%d", l.LocalAddr().Port)
}

func evs(e ...Event) []Event { return e }

func sameEvents(a, b []Event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// clientResult is what a goroutine client got.
type clientResult struct {
	data []byte
	err  error
}

// goClient dials addr and runs talk on the connection (30 s deadline) in
// its own goroutine; the test polls until the result arrives.
func goClient(addr string, talk func(conn net.Conn) ([]byte, error)) <-chan clientResult {
	ch := make(chan clientResult, 1)
	go func() {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			ch <- clientResult{err: err}
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		data, err := talk(conn)
		ch <- clientResult{data, err}
	}()
	return ch
}

// rawClient writes req (optionally half-closing), then reads until EOF.
func rawClient(addr string, req []byte, halfClose bool) <-chan clientResult {
	return goClient(addr, func(conn net.Conn) ([]byte, error) {
		if _, err := conn.Write(req); err != nil {
			return nil, err
		}
		if halfClose {
			conn.(*net.TCPConn).CloseWrite()
		}
		return io.ReadAll(conn)
	})
}

// recv polls until ch delivers.
func recv[T any](h *harness, what string, ch <-chan T) T {
	h.t.Helper()
	var v T
	h.until(what, func() bool {
		select {
		case v = <-ch:
			return true
		default:
			return false
		}
	})
	return v
}

// readResponses parses n HTTP responses from data.
func readResponses(t testing.TB, data []byte, n int) []*http.Response {
	t.Helper()
	br := bufio.NewReader(strings.NewReader(string(data)))
	var out []*http.Response
	for i := 0; i < n; i++ {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v (data %q)", i, err, trunc(data))
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("response %d body: %v", i, err)
		}
		resp.Body = io.NopCloser(strings.NewReader(string(body)))
		resp.ContentLength = int64(len(body))
		out = append(out, resp)
	}
	if rest, _ := io.ReadAll(br); len(rest) > 0 {
		t.Fatalf("%d trailing bytes after %d responses: %q", len(rest), n, trunc(rest))
	}
	return out
}

func bodyOf(r *http.Response) string {
	b, _ := io.ReadAll(r.Body)
	return string(b)
}

func trunc(b []byte) []byte {
	if len(b) > 300 {
		return b[:300]
	}
	return b
}

func replyOn(ev Event, f func(c *Conn, msg *HTTPMessage)) func(c *Conn, e Event, data any) Result {
	return func(c *Conn, e Event, data any) Result {
		if e == ev {
			f(c, data.(*HTTPMessage))
		}
		return ResultOK
	}
}

const getReq = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"

// rawClientSteps writes each part with a pause in between, half-closes,
// then reads until EOF.
func rawClientSteps(addr string, parts []string, pause time.Duration) <-chan clientResult {
	ch := make(chan clientResult, 1)
	go func() {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			ch <- clientResult{err: err}
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		var data []byte
		buf := make([]byte, 65536)
		for i, p := range parts {
			if i > 0 {
				time.Sleep(pause) // the client paces itself; the server is not waited for
			}
			if _, err := conn.Write([]byte(p)); err != nil {
				break
			}
		}
		conn.(*net.TCPConn).CloseWrite()
		for {
			n, err := conn.Read(buf)
			data = append(data, buf[:n]...)
			if err != nil {
				if err == io.EOF {
					err = nil
				}
				ch <- clientResult{data, err}
				return
			}
		}
	}()
	return ch
}
