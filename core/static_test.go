package core

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// staticTree makes a directory to serve and a secret file outside it.
func staticTree(t *testing.T) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root = filepath.Join(base, "www")
	outside = filepath.Join(base, "secret.txt")
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "sub", "deep"), 0o755))
	must(os.MkdirAll(filepath.Join(root, "list"), 0o755))
	must(os.WriteFile(outside, []byte("TOP SECRET"), 0o644))
	must(os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hello world\n"), 0o644))
	must(os.WriteFile(filepath.Join(root, "page.html"), []byte("<p>hi</p>"), 0o644))
	must(os.WriteFile(filepath.Join(root, "data.json"), []byte("{}"), 0o644))
	must(os.WriteFile(filepath.Join(root, "app.js"), []byte("1"), 0o644))
	must(os.WriteFile(filepath.Join(root, "app.js.gz"), []byte("GZ"), 0o644))
	must(os.WriteFile(filepath.Join(root, "sub", "index.html"), []byte("INDEX"), 0o644))
	must(os.WriteFile(filepath.Join(root, "list", "a b.txt"), []byte("a"), 0o644))
	must(os.WriteFile(filepath.Join(root, "404.html"), []byte("custom 404"), 0o644))
	must(os.Symlink(outside, filepath.Join(root, "escape.txt")))
	must(os.Symlink(base, filepath.Join(root, "updir")))
	must(os.Symlink(filepath.Join(root, "hello.txt"), filepath.Join(root, "inside.txt")))
	return root, outside
}

// staticServer serves root with ServeDir (or one file with ServeFile).
func staticServer(t *testing.T, serve func(c *Conn, m *HTTPMessage)) (*harness, string) {
	h := newHarness(t, nil, replyOn(EvHTTPMsg, serve))
	_, addr := h.listen(true)
	return h, addr
}

// get runs a raw request against the server and parses one response.
func get(t *testing.T, h *harness, addr, req string) *http.Response {
	t.Helper()
	if !strings.Contains(req, "Connection:") {
		req = strings.Replace(req, "\r\n\r\n", "\r\nConnection: close\r\n\r\n", 1)
	}
	res := recv(h, "response", rawClient(addr, []byte(req), false))
	if res.err != nil {
		t.Fatal(res.err)
	}
	return readResponses(t, res.data, 1)[0]
}

func TestServeDir(t *testing.T) {
	root, _ := staticTree(t)
	h, addr := staticServer(t, func(c *Conn, m *HTTPMessage) {
		c.ServeDir(m, root, ServeOptions{ExtraHeaders: "X-A: 1\r\n", MimeTypes: "js=application/x-js"})
	})
	r := get(t, h, addr, "GET /hello.txt HTTP/1.1\r\n\r\n")
	if r.StatusCode != 200 || bodyOf(r) != "hello world\n" || r.Header.Get("Content-Type") != "text/plain; charset=utf-8" ||
		r.Header.Get("X-A") != "1" {
		t.Fatalf("hello: %v %v", r.Status, r.Header)
	}
	etag := r.Header.Get("Etag")
	st, _ := os.Stat(filepath.Join(root, "hello.txt"))
	if want := fmt.Sprintf("\"%d.%d\"", st.ModTime().Unix(), st.Size()); etag != want {
		t.Fatalf("etag %q want %q", etag, want)
	}
	r = get(t, h, addr, "GET /hello.txt HTTP/1.1\r\nIf-None-Match: "+etag+"\r\n\r\n")
	if r.StatusCode != 304 || bodyOf(r) != "" || r.Header.Get("X-A") != "1" {
		t.Fatalf("304: %v", r.Status)
	}
	r = get(t, h, addr, "GET /hello.txt HTTP/1.1\r\nRange: bytes=2-4\r\n\r\n")
	if r.StatusCode != 206 || bodyOf(r) != "llo" || r.Header.Get("Content-Range") != "bytes 2-4/12" {
		t.Fatalf("206: %v %v", r.Status, r.Header)
	}
	r = get(t, h, addr, "GET /hello.txt HTTP/1.1\r\nRange: bytes=-3\r\n\r\n")
	if r.StatusCode != 206 || bodyOf(r) != "ld\n" {
		t.Fatalf("suffix: %v", r.Status)
	}
	r = get(t, h, addr, "GET /hello.txt HTTP/1.1\r\nRange: bytes=50-\r\n\r\n")
	if r.StatusCode != 416 || r.Header.Get("Content-Range") != "bytes */12" || bodyOf(r) != "" {
		t.Fatalf("416: %v %v", r.Status, r.Header)
	}
	for path, ct := range map[string]string{"/page.html": "text/html; charset=utf-8", "/data.json": "application/json",
		"/app.js": "application/x-js", "/sub/": "text/html; charset=utf-8"} {
		if r = get(t, h, addr, "GET "+path+" HTTP/1.1\r\n\r\n"); r.StatusCode != 200 || r.Header.Get("Content-Type") != ct {
			t.Fatalf("%s: %v %q", path, r.Status, r.Header.Get("Content-Type"))
		}
	}
	r = get(t, h, addr, "GET /app.js HTTP/1.1\r\nAccept-Encoding: deflate, gzip\r\n\r\n")
	if bodyOf(r) != "GZ" || r.Header.Get("Content-Encoding") != "gzip" || r.Header.Get("Content-Type") != "application/x-js" {
		t.Fatalf("gzip: %v", r.Header)
	}
	r = get(t, h, addr, "GET /sub HTTP/1.1\r\n\r\n")
	if r.StatusCode != 301 || r.Header.Get("Location") != "/sub/" {
		t.Fatalf("301: %v", r.Status)
	}
	r = get(t, h, addr, "GET /sub/ HTTP/1.1\r\n\r\n")
	if bodyOf(r) != "INDEX" {
		t.Fatal("index.html")
	}
	r = get(t, h, addr, "GET /list/ HTTP/1.1\r\n\r\n")
	if b := bodyOf(r); r.StatusCode != 200 || !strings.Contains(b, `href="a%20b.txt"`) || !strings.Contains(b, ">a b.txt<") {
		t.Fatalf("listing: %s", b)
	}
	res := recv(h, "HEAD", rawClient(addr, []byte("HEAD /hello.txt HTTP/1.1\r\nConnection: close\r\n\r\n"), false))
	if s := string(res.data); !strings.HasPrefix(s, "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(s, "Content-Length: 12\r\nX-A: 1\r\nConnection: close\r\n\r\n") {
		t.Fatalf("HEAD: %q", s)
	}
	r = get(t, h, addr, "GET /missing HTTP/1.1\r\n\r\n")
	if r.StatusCode != 404 || bodyOf(r) != "Not found\n" {
		t.Fatalf("404: %v", r.Status)
	}
	if r = get(t, h, addr, "GET /inside.txt HTTP/1.1\r\n\r\n"); r.StatusCode != 200 {
		t.Fatalf("symlink inside the root: %v", r.Status)
	}
	for _, p := range []string{"/../secret.txt", "/%2e%2e/secret.txt", "/sub/%2e%2e%2f%2e%2e%2fsecret.txt",
		"/escape.txt", "/updir/secret.txt", "/updir/", "/..%5csecret.txt", "/x%00y", "/%zz"} {
		r = get(t, h, addr, "GET "+p+" HTTP/1.1\r\n\r\n")
		if b := bodyOf(r); r.StatusCode != 400 || b != "Invalid path" {
			t.Fatalf("%s: %v %q", p, r.Status, b)
		}
	}
}

func TestServePage404AndPrefixes(t *testing.T) {
	root, _ := staticTree(t)
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "o.txt"), []byte("other"), 0o644)
	h, addr := staticServer(t, func(c *Conn, m *HTTPMessage) {
		c.ServeDir(m, root+",/o="+other, ServeOptions{Page404: filepath.Join(root, "404.html")})
	})
	r := get(t, h, addr, "GET /nothing HTTP/1.1\r\n\r\n")
	if r.StatusCode != 404 || bodyOf(r) != "custom 404" || r.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("page404: %v", r.Status)
	}
	if r = get(t, h, addr, "GET /o/o.txt HTTP/1.1\r\n\r\n"); bodyOf(r) != "other" {
		t.Fatalf("prefix: %v", r.Status)
	}
	if r = get(t, h, addr, "GET /hello.txt HTTP/1.1\r\n\r\n"); bodyOf(r) != "hello world\n" {
		t.Fatalf("bare entry: %v", r.Status)
	}
}

// TestServeFileLarge streams a file far larger than the send buffer is
// allowed to grow: the queue stays bounded, the connection keeps getting
// its events, pipelined requests wait, and drain waits for the transfer.
func TestServeFileLarge(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "big.bin")
	data := make([]byte, 24<<20+123)
	for i := range data {
		data[i] = byte(i * 7)
	}
	os.WriteFile(path, data, 0o644)
	maxQueued, msgs, polls := 0, 0, 0
	h := newHarness(t, nil, func(c *Conn, ev Event, d any) Result {
		if c.parent == nil {
			return ResultOK
		}
		if c.send.len() > maxQueued {
			maxQueued = c.send.len()
		}
		switch ev {
		case EvPoll:
			polls++
		case EvHTTPMsg:
			msgs++
			c.ServeFile(d.(*HTTPMessage), path, ServeOptions{})
			if msgs == 2 {
				c.Drain()
			}
		}
		return ResultOK
	})
	_, addr := h.listen(true)
	ch := goClient(addr, func(conn net.Conn) ([]byte, error) {
		io.WriteString(conn, "GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nRange: bytes=1000-\r\n\r\n")
		time.Sleep(50 * time.Millisecond) // a slow reader: the server must keep the queue bounded
		return io.ReadAll(conn)
	})
	res := recv(h, "responses", ch)
	if res.err != nil {
		t.Fatal(res.err)
	}
	rs := readResponses(t, res.data, 2)
	if b := bodyOf(rs[0]); !bytes.Equal([]byte(b), data) {
		t.Fatalf("first body: %d bytes", len(b))
	}
	if b := bodyOf(rs[1]); rs[1].StatusCode != 206 || !bytes.Equal([]byte(b), data[1000:]) {
		t.Fatalf("second: %v %d bytes", rs[1].Status, len(b))
	}
	if maxQueued > 4*xferLow {
		t.Fatalf("send queue grew to %d", maxQueued)
	}
	if polls < 2 {
		t.Fatalf("polls %d", polls)
	}
}

// FuzzParseRange: a 206 range is always inside the file.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-", "bytes=2-4", "bytes=-5", "bytes=9-1", "bytes=0-1,3-4", "x bytes= 7 - 9"} {
		f.Add([]byte(s), int64(10))
	}
	f.Fuzz(func(t *testing.T, v []byte, size int64) {
		if size < 0 {
			size = -size
			if size < 0 {
				size = 0
			}
		}
		r1, r2, st := parseRange(v, size)
		if st == 206 && (r1 < 0 || r2 < r1 || r2 >= size) {
			t.Fatalf("%q size %d: %d-%d", v, size, r1, r2)
		}
	})
}

// TestServeFileLongPoll: with long poll timeouts and a fast reader the
// transfer never waits for a timeout between windows.
func TestServeFileLongPoll(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.bin")
	data := bytes.Repeat([]byte("0123456789abcdef"), 4<<20) // 64 MiB
	os.WriteFile(path, data, 0o644)
	h, addr := staticServer(t, func(c *Conn, m *HTTPMessage) { c.ServeFile(m, path, ServeOptions{}) })
	ch := rawClient(addr, []byte("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"), false)
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case res := <-ch:
			if res.err != nil || !bytes.HasSuffix(res.data, data[len(data)-100:]) || len(res.data) < len(data) {
				t.Fatalf("got %d bytes, %v", len(res.data), res.err)
			}
			return
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("transfer stalled between long polls")
		}
		h.m.Poll(3000)
	}
}
