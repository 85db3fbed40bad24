package core

import (
	"fmt"
	"net"
	"strings"
	"testing"
)

// A request with more headers than Mongoose stores: the raw API sees the
// first 30 (MG_MAX_HTTP_HEADERS), a Manager with StoreAllHeaders all of them,
// on the first request and on a larger one after it on the same connection.
func TestStoreAllHeaders(t *testing.T) {
	for _, all := range []bool{false, true} {
		var seen []int
		var last []string
		h := newHarness(t, nil, replyOn(EvHTTPMsg, func(c *Conn, msg *HTTPMessage) {
			seen = append(seen, len(msg.Headers))
			last = last[:0]
			for _, hs := range msg.Headers {
				last = append(last, string(msg.Head[hs.Name.Off:hs.Name.Off+hs.Name.Len])+"="+
					string(msg.Head[hs.Value.Off:hs.Value.Off+hs.Value.Len]))
			}
			c.Reply(200, nil, []byte("ok"))
		}))
		if all {
			h.m.StoreAllHeaders()
		}
		_, addr := h.listen(true)
		request := func(n int) string {
			var b strings.Builder
			b.WriteString("GET / HTTP/1.1\r\nHost: a\r\n")
			for i := 0; i < n; i++ {
				fmt.Fprintf(&b, "X-H%d: v%d\r\n", i, i)
			}
			return b.String() + "\r\n"
		}
		done := make(chan error, 1)
		go func() {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				done <- err
				return
			}
			defer conn.Close()
			buf := make([]byte, 4096)
			for _, n := range []int{40, 5, 60} {
				conn.Write([]byte(request(n)))
				if _, err := conn.Read(buf); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		if err := recv(h, "client", done); err != nil {
			t.Fatal(err)
		}
		want := []int{30, 6, 30}
		if all {
			want = []int{41, 6, 61}
		}
		if fmt.Sprint(seen) != fmt.Sprint(want) {
			t.Fatalf("all=%v: headers stored %v, want %v", all, seen, want)
		}
		if all && (last[0] != "Host=a" || last[60] != "X-H59=v59") {
			t.Fatalf("headers of the last request: first %q, last %q", last[0], last[60])
		}
	}
}
