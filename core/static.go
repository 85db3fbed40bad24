package core

import (
	"bytes"
	"html"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/pymongoose-go/pymongoose-go/core/codec"
)

// ServeOptions are the string options of serve_dir/serve_file (docs/api.md
// §7.8). Empty strings mean "not set".
type ServeOptions struct {
	ExtraHeaders string // raw header lines, each ending with CRLF
	MimeTypes    string // "ext=type,ext=type"; "*=type" overrides everything
	Page404      string // ServeDir only: file served (with 404) for a missing path
}

// Static transfer tuning: the body goes out xferChunk bytes at a time,
// refilled while less than xferLow bytes are queued.
const (
	xferChunk    = 16384
	xferLow      = 65536
	xferMaxSteps = 16 // fill+write rounds per turn (fairness)
	maxPathLen   = 4096
)

// fileXfer is a static file body being streamed from disk (§7.8).
type fileXfer struct {
	f         *os.File
	left      int64
	connClose bool // the request asked for Connection: close
}

// ParseMessageHead parses a complete request (or response) head, for the
// binding, which hands the head of an HttpMessage back to the engine.
func ParseMessageHead(head []byte) (*HTTPMessage, bool) {
	msg := &HTTPMessage{Headers: make([]codec.HeaderSpan, 0, codec.MaxStoredHeaders)}
	var hi codec.HeadInfo
	n, code := codec.ParseHead(head, true, 0, 0, msg, &hi)
	if code != 0 || n == 0 {
		n, code = codec.ParseHead(head, false, 0, 0, msg, &hi)
		if code != 0 || n == 0 {
			return nil, false
		}
	}
	return msg, true
}

// ServeFile answers the request hm with the file at path whatever the
// URI (§7.8): gzip variant, ETag/304, Range 206/416, HEAD, 404. The body
// is streamed from disk during later iterations.
func (c *Conn) ServeFile(hm *HTTPMessage, path string, o ServeOptions) {
	if c.has(fClosed) || c.has(fInClose) || c.m == nil {
		return // the close has stopped transfers already: a file opened now would leak
	}
	c.serveFile(hm, path, "", "", o)
}

// ServeDir maps the request URI into rootDir (a directory or a list of
// "uri_prefix=directory" entries) and serves the file, an index file, a
// directory listing, a redirect, 400 for unsafe paths, or 404 (§7.8).
func (c *Conn) ServeDir(hm *HTTPMessage, rootDir string, o ServeOptions) {
	if c.has(fClosed) || c.has(fInClose) || c.m == nil {
		return // the close has stopped transfers already: a file opened now would leak
	}
	uri := string(codec.RequestPath(hm.URIBytes()))
	prefix, dir, ok := pickRoot(rootDir, uri)
	if !ok {
		c.staticReply(404, o, "Not found\n")
		return
	}
	rest := ""
	if len(prefix) < len(uri) {
		rest = uri[len(prefix):]
	}
	dec, ok := codec.PathDecode(rest)
	if !ok || !pathIsSane(dec) {
		c.Reply(400, []byte{}, []byte("Invalid path"))
		return
	}
	if len(dir)+2 >= maxPathLen || len(dir)+1+len(dec) >= maxPathLen {
		c.Reply(400, []byte{}, []byte("Exceeded path size"))
		return
	}
	realRoot, err := filepath.EvalSymlinks(dir)
	if err != nil {
		c.staticReply(404, o, "Not found\n")
		return
	}
	if realRoot, err = filepath.Abs(realRoot); err != nil {
		c.staticReply(404, o, "Not found\n")
		return
	}
	p := dir
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	p += dec
	for len(p) > 1 && strings.HasSuffix(p, "/") {
		p = p[:len(p)-1]
	}
	isDir := false
	if st, err := os.Stat(p); err == nil {
		isDir = st.IsDir()
	} else if uri == "/" {
		isDir = true
	}
	if isDir {
		if !strings.HasSuffix(uri, "/") {
			c.queueOutput([]byte("HTTP/1.1 301 Moved\r\nLocation: " + uri + "/\r\nContent-Length: 0\r\n\r\n"))
			c.afterQueue()
			c.finishResponse()
			return
		}
		if !within(p, realRoot) {
			c.Reply(400, []byte{}, []byte("Invalid path"))
			return
		}
		found := ""
		for _, name := range []string{"index.html", "index.shtml"} {
			if fileExists(p + "/" + name) {
				found = p + "/" + name
				break
			}
		}
		if found == "" && fileExists(p+"/index.html.gz") {
			found = p + "/index.html"
		}
		if found == "" {
			c.listDir(hm, p, o)
			return
		}
		p = found
	}
	c.serveFile(hm, p, realRoot, o.Page404, o)
}

// pickRoot applies the root_dir rules: the last entry whose prefix starts
// the URI wins; a bare directory means prefix "/". An empty root_dir is
// the current directory.
func pickRoot(rootDir, uri string) (prefix, dir string, ok bool) {
	if rootDir == "" {
		rootDir = "."
	}
	for _, part := range strings.Split(rootDir, ",") {
		k, v, has := strings.Cut(part, "=")
		if !has || v == "" {
			k, v = "/", k
			if !has && v == "" {
				continue
			}
		}
		if strings.HasPrefix(uri, k) {
			prefix, dir, ok = k, v, true
		}
	}
	return prefix, dir, ok
}

// pathIsSane is mg_path_is_sane over the decoded URI part: no segment may
// start with "..", with '/' or '\' as separators.
func pathIsSane(p string) bool {
	if strings.HasPrefix(p, "..") {
		return false
	}
	for i := 0; i+2 < len(p); i++ {
		if (p[i] == '/' || p[i] == '\\') && p[i+1] == '.' && p[i+2] == '.' {
			return false
		}
	}
	return true
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// within reports whether path p, with symbolic links resolved, is the
// root or inside it.
func within(p, realRoot string) bool {
	rp, err := filepath.EvalSymlinks(p)
	if err != nil {
		return false
	}
	if rp, err = filepath.Abs(rp); err != nil {
		return false
	}
	return underRoot(rp, realRoot)
}

func underRoot(rp, realRoot string) bool {
	if rp == realRoot || realRoot == "/" {
		return true
	}
	return strings.HasPrefix(rp, realRoot+"/")
}

// openRegular opens a regular file for reading without blocking on FIFOs;
// anything else (missing, directory, device) gives nil.
func openRegular(p string) *os.File {
	f, err := openNonblock(p)
	if err != nil {
		return nil
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil
	}
	return f
}

// openedWithin checks the real path of an opened file against the root
// (no race with a path swapped after the check).
func openedWithin(f *os.File, realRoot string) bool {
	rp, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	if err != nil {
		return within(f.Name(), realRoot)
	}
	return underRoot(rp, realRoot)
}

// staticReply is mg_http_reply with the extra headers (none: no header lines).
func (c *Conn) staticReply(code int, o ServeOptions, body string) {
	c.Reply(code, append([]byte{}, o.ExtraHeaders...), []byte(body))
}

func (c *Conn) serveFile(hm *HTTPMessage, path, realRoot, page404 string, o ServeOptions) {
	mime := codec.MIMEType(path, o.MimeTypes)
	var f *os.File
	gzip := false
	if ae, ok := hm.Header("Accept-Encoding"); ok && bytes.Contains(ae, []byte("gzip")) {
		if f = openRegular(path + ".gz"); f != nil {
			gzip = true
		}
	}
	if f == nil {
		f = openRegular(path)
	}
	if f != nil && realRoot != "" && !openedWithin(f, realRoot) {
		f.Close()
		c.Reply(400, []byte{}, []byte("Invalid path"))
		return
	}
	status := 200
	if f == nil && page404 != "" {
		if f = openRegular(page404); f != nil {
			mime = codec.MIMEType(page404, o.MimeTypes)
			status, gzip = 404, false
		}
	}
	if f == nil {
		c.staticReply(404, o, "Not found\n")
		return
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		c.staticReply(404, o, "Not found\n")
		return
	}
	size := st.Size()
	etag := "\"" + strconv.FormatInt(st.ModTime().Unix(), 10) + "." + strconv.FormatInt(size, 10) + "\""
	if status == 200 {
		if inm, ok := hm.Header("If-None-Match"); ok && codec.EqualFold(inm, etag) {
			f.Close()
			c.staticReply(304, o, "")
			return
		}
	}
	var off, cl int64 = 0, size
	rangeHdr := ""
	if rh, ok := hm.Header("Range"); ok && status == 200 {
		r1, r2, st := parseRange(rh, size)
		switch st {
		case 206:
			status, off, cl = 206, r1, r2-r1+1
			rangeHdr = "Content-Range: bytes " + strconv.FormatInt(r1, 10) + "-" +
				strconv.FormatInt(r2, 10) + "/" + strconv.FormatInt(size, 10) + "\r\n"
		case 416:
			status, cl = 416, 0
			rangeHdr = "Content-Range: bytes */" + strconv.FormatInt(size, 10) + "\r\n"
		}
	}
	var b []byte
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, StatusText(status)...)
	b = append(b, "\r\nContent-Type: "...)
	b = append(b, mime...)
	b = append(b, "\r\nEtag: "...)
	b = append(b, etag...)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, cl, 10)
	b = append(b, "\r\n"...)
	if gzip {
		b = append(b, "Content-Encoding: gzip\r\n"...)
	}
	b = append(b, rangeHdr...)
	b = append(b, o.ExtraHeaders...)
	b = append(b, "\r\n"...)
	c.queueOutput(b) // with the Connection header the request needs (http_framing.go)
	c.afterQueue()
	if cl == 0 || codec.EqualFold(hm.MethodBytes(), "HEAD") {
		f.Close()
		c.finishResponse()
		return
	}
	if off > 0 {
		if _, err := f.Seek(off, 0); err != nil {
			f.Close()
			c.Drain()
			return
		}
	}
	if c.fileXfer() != nil {
		c.fileXfer().f.Close()
	}
	connClose := false
	if v, ok := hm.Header("Connection"); ok {
		connClose = codec.EqualFold(v, "close")
	}
	c.setFileXfer(&fileXfer{f: f, left: cl, connClose: connClose})
	c.xferFill()
}

// parseRange understands one "bytes=a-b", "bytes=a-" or "bytes=-n" range.
// It returns status 206 with the inclusive range, 416 when unsatisfiable,
// or 0 to ignore the header (malformed or several ranges: full 200).
func parseRange(v []byte, size int64) (r1, r2 int64, status int) {
	i := bytes.Index(v, []byte("bytes="))
	if i < 0 {
		return 0, 0, 0
	}
	spec := strings.TrimSpace(string(v[i+6:]))
	if strings.Contains(spec, ",") {
		return 0, 0, 0
	}
	a, b, ok := strings.Cut(spec, "-")
	if !ok {
		return 0, 0, 0
	}
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	num := func(s string) (int64, bool) {
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil && n >= 0 && s[0] != '+'
	}
	switch {
	case a == "" && b != "":
		n, ok := num(b)
		if !ok {
			return 0, 0, 0
		}
		if n == 0 || size == 0 {
			return 0, 0, 416
		}
		if n > size {
			n = size
		}
		return size - n, size - 1, 206
	case a != "":
		r1, ok := num(a)
		if !ok {
			return 0, 0, 0
		}
		r2 = size - 1
		if b != "" {
			if r2x, ok := num(b); !ok {
				return 0, 0, 0
			} else if r2x < r2 {
				r2 = r2x
			}
		}
		if r1 >= size || r1 > r2 {
			return 0, 0, 416
		}
		return r1, r2, 206
	}
	return 0, 0, 0
}

// xferFill moves file data into the send buffer while it is short. When
// the last byte is queued the response is finished (§7.4), and a request
// that asked for Connection: close drains.
func (c *Conn) xferFill() {
	x := c.fileXfer()
	if x == nil {
		return
	}
	added := false
	for x.left > 0 && c.send.len() < xferLow {
		n := int64(xferChunk)
		if x.left < n {
			n = x.left
		}
		buf := c.send.reserve(int(n))[:n]
		k, _ := x.f.Read(buf)
		if k > 0 {
			c.send.commit(k)
			x.left -= int64(k)
			added = true
		}
		if k == 0 {
			// The file shrank: the promised length cannot be met.
			c.xferStop()
			if added {
				c.afterQueue()
			}
			c.Drain()
			return
		}
	}
	if added {
		c.afterQueue()
	}
	if x.left == 0 {
		c.xferStop()
		c.finishResponse()
		if x.connClose && c.httpOutsideMsg() {
			c.Drain()
		}
	}
}

// xferStop ends the transfer and closes the file.
func (c *Conn) xferStop() {
	if x := c.fileXfer(); x != nil {
		c.setFileXfer(nil)
		x.f.Close()
	}
}

// xferStep is the loop's write step for a connection streaming a file:
// fill and write until the socket would block or the file is done, a
// bounded number of rounds per turn.
func (m *Manager) xferStep(c *Conn) {
	for i := 0; i < xferMaxSteps && c.fileXfer() != nil; i++ {
		c.xferFill()
		m.writeStep(c)
		if c.has(fClosed) || c.has(fClosing) || m.aborted || !c.has(fWritable) {
			break
		}
	}
	if !c.has(fClosed) && !c.has(fClosing) {
		// Keep the next window queued: pending() then tells Wait not to
		// block while the socket is writable.
		c.xferFill()
	}
}

// listDir answers with an HTML listing of directory p (§7.8).
func (c *Conn) listDir(hm *HTTPMessage, p string, o ServeOptions) {
	ents, err := os.ReadDir(p)
	if err != nil {
		c.staticReply(404, o, "Not found\n")
		return
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	uri := html.EscapeString(string(codec.RequestPath(hm.URIBytes())))
	var b strings.Builder
	b.WriteString("<!DOCTYPE html><html><head><title>Index of ")
	b.WriteString(uri)
	b.WriteString("</title><style>th,td{text-align:left;padding-right:1em}</style></head><body><h1>Index of ")
	b.WriteString(uri)
	b.WriteString("</h1><table><thead><tr><th>Name</th><th>Modified</th><th>Size</th></tr></thead><tbody>\n")
	b.WriteString("<tr><td><a href=\"../\">..</a></td><td></td><td>[DIR]</td></tr>\n")
	for _, e := range ents {
		name := e.Name()
		info, err := os.Stat(filepath.Join(p, name))
		if err != nil {
			if info, err = e.Info(); err != nil {
				continue
			}
		}
		href := (&url.URL{Path: name}).EscapedPath()
		if strings.Contains(name, ":") && !strings.HasPrefix(href, "./") {
			href = "./" + href
		}
		size := strconv.FormatInt(info.Size(), 10)
		if info.IsDir() {
			href += "/"
			name += "/"
			size = "[DIR]"
		}
		b.WriteString("<tr><td><a href=\"")
		b.WriteString(html.EscapeString(href))
		b.WriteString("\">")
		b.WriteString(html.EscapeString(name))
		b.WriteString("</a></td><td>")
		b.WriteString(info.ModTime().UTC().Format("2006-01-02 15:04:05"))
		b.WriteString("</td><td>")
		b.WriteString(size)
		b.WriteString("</td></tr>\n")
	}
	b.WriteString("</tbody></table></body></html>\n")
	hdr := "Content-Type: text/html; charset=utf-8\r\n" + o.ExtraHeaders
	c.Reply(200, []byte(hdr), []byte(b.String()))
}
