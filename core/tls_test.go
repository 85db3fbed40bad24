package core

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// testPKI is a CA with leaf certificates for the tests (EC P-256, SEC1 keys).
type testPKI struct {
	caPEM  []byte
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
}

type testLeaf struct{ cert, key []byte }

var (
	pkiOnce sync.Once
	pki     *testPKI
)

func getPKI(t testing.TB) *testPKI {
	pkiOnce.Do(func() { pki = newPKI("Test CA") })
	return pki
}

func newPKI(cn string) *testPKI {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testPKI{caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), caCert: c, caKey: key}
}

var serial int64 = 100

func (p *testPKI) leaf(hosts []string, expired bool) testLeaf {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial++
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "leaf"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if expired {
		tpl.NotBefore = time.Now().Add(-48 * time.Hour)
		tpl.NotAfter = time.Now().Add(-24 * time.Hour)
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tpl.IPAddresses = append(tpl.IPAddresses, ip)
		} else {
			tpl.DNSNames = append(tpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		panic(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	return testLeaf{
		cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		key:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}),
	}
}

var localHosts = []string{"localhost", "127.0.0.1"}

// tlsServer is a harness with an HTTPS listener whose children get
// tls_init(srv) in EvAccept and whose handler answers each request with
// body(msg) and a drain.
func tlsListen(t *testing.T, h *harness, opts TLSOptions) (*Conn, string) {
	t.Helper()
	l, err := h.m.Listen("https://127.0.0.1:0", ListenOptions{HTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	if !l.IsTLS() {
		t.Fatal("https listener: IsTLS false")
	}
	return l, fmt.Sprintf("127.0.0.1:%d", l.LocalAddr().Port)
}

// goTLSGet fetches / over TLS with Go's client; it records the raw bytes
// the server sent so that the test can look for the close_notify record.
func goTLSGet(addr string, cfg *tls.Config, req string) <-chan clientResult {
	ch := make(chan clientResult, 1)
	go func() {
		raw, err := net.Dial("tcp", addr)
		if err != nil {
			ch <- clientResult{err: err}
			return
		}
		defer raw.Close()
		raw.SetDeadline(time.Now().Add(30 * time.Second))
		tc := tls.Client(raw, cfg)
		if _, err := tc.Write([]byte(req)); err != nil {
			ch <- clientResult{err: err}
			return
		}
		data, err := io.ReadAll(tc)
		ch <- clientResult{data, err}
	}()
	return ch
}

func serverOpts(p *testPKI) TLSOptions {
	l := p.leaf(localHosts, false)
	return TLSOptions{Cert: l.cert, Key: l.key}
}

func onAcceptTLS(opts TLSOptions, next func(c *Conn, ev Event, data any)) func(c *Conn, ev Event, data any) Result {
	return func(c *Conn, ev Event, data any) Result {
		if ev == EvAccept {
			c.TLSInit(opts)
		}
		if next != nil {
			next(c, ev, data)
		}
		return ResultOK
	}
}

func TestTLSServerHTTPS(t *testing.T) {
	p := getPKI(t)
	h := newHarness(t, nil, onAcceptTLS(serverOpts(p), func(c *Conn, ev Event, data any) {
		if ev == EvHTTPMsg {
			msg := data.(*HTTPMessage)
			c.Reply(200, nil, append([]byte("hello "), msg.URIBytes()...))
			c.Drain()
		}
	}))
	_, addr := tlsListen(t, h, TLSOptions{})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.caPEM)
	for _, maxv := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		cfg := &tls.Config{RootCAs: pool, ServerName: "localhost", MaxVersion: maxv}
		// Count the raw records to see the close_notify (visible in 1.2).
		res := recv(h, "response", goTLSGet(addr, cfg, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n"))
		if res.err != nil {
			t.Fatalf("v%x: %v", maxv, res.err)
		}
		if !strings.HasSuffix(string(res.data), "hello /x") || !strings.HasPrefix(string(res.data), "HTTP/1.1 200 OK\r\n") {
			t.Fatalf("v%x: got %q", maxv, res.data)
		}
	}
	var child *Conn
	for _, r := range h.log {
		if r.ev == EvAccept {
			child = r.c
		}
	}
	h.until("close", func() bool { return child.IsClosed() })
	ev := h.events(child)
	want := []Event{EvOpen, EvAccept, EvTLSHS, EvHTTPHdrs, EvHTTPMsg, EvWrite, EvClose}
	if !sameEvents(ev, want) {
		t.Fatalf("events %v, want %v", ev, want)
	}
}

// recordingConn keeps what was read from the peer.
type recordingConn struct {
	net.Conn
	mu  sync.Mutex
	got []byte
}

func (r *recordingConn) Read(b []byte) (int, error) {
	n, err := r.Conn.Read(b)
	r.mu.Lock()
	r.got = append(r.got, b[:n]...)
	r.mu.Unlock()
	return n, err
}

func TestTLSDrainSendsCloseNotify(t *testing.T) {
	p := getPKI(t)
	h := newHarness(t, nil, onAcceptTLS(serverOpts(p), func(c *Conn, ev Event, data any) {
		if ev == EvHTTPMsg {
			c.Reply(200, nil, bytes.Repeat([]byte("z"), 100000))
			c.Drain()
		}
	}))
	_, addr := tlsListen(t, h, TLSOptions{})
	ch := make(chan clientResult, 1)
	var rc *recordingConn
	go func() {
		raw, err := net.Dial("tcp", addr)
		if err != nil {
			ch <- clientResult{err: err}
			return
		}
		defer raw.Close()
		raw.SetDeadline(time.Now().Add(30 * time.Second))
		rc = &recordingConn{Conn: raw}
		tc := tls.Client(rc, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12})
		tc.Write([]byte(getReq))
		data, err := io.ReadAll(tc)
		ch <- clientResult{data, err}
	}()
	res := recv(h, "response", ch)
	if res.err != nil || !bytes.HasSuffix(res.data, bytes.Repeat([]byte("z"), 100000)) {
		t.Fatalf("err %v, %d bytes", res.err, len(res.data))
	}
	// Walk the records: the last one must be an alert (close_notify).
	b := rc.got
	last := byte(0)
	for len(b) >= 5 {
		n := int(b[3])<<8 | int(b[4])
		last = b[0]
		b = b[5+n:]
	}
	if len(b) != 0 || last != 21 {
		t.Fatalf("last record type %d (rest %d bytes), want an alert", last, len(b))
	}
}

func TestTLSClientHTTPS(t *testing.T) {
	p := getPKI(t)
	leaf := p.leaf(localHosts, false)
	pair, err := tls.X509KeyPair(leaf.cert, leaf.key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				buf := make([]byte, 4096)
				var req []byte
				for !bytes.Contains(req, []byte("\r\n\r\n")) {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					req = append(req, buf[:n]...)
				}
				body := "served over tls"
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			}(c)
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	var got string
	h := newHarness(t, nil, func(c *Conn, ev Event, data any) Result {
		switch ev {
		case EvConnect:
			c.TLSInit(TLSOptions{CA: p.caPEM, Name: "localhost"})
			c.Send([]byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"))
		case EvHTTPMsg:
			got = string(data.(*HTTPMessage).Body)
			c.Drain()
		}
		return ResultOK
	})
	c, err := h.m.Connect(fmt.Sprintf("https://127.0.0.1:%d", port), ConnectOptions{HTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	h.until("close", func() bool { return c.IsClosed() })
	if got != "served over tls" {
		t.Fatalf("body %q; events %s", got, h.summary(c))
	}
	want := []Event{EvOpen, EvResolve, EvConnect, EvTLSHS, EvWrite, EvHTTPHdrs, EvHTTPMsg, EvWrite, EvClose}
	if ev := h.events(c); !sameEvents(ev, want) {
		t.Fatalf("events %v, want %v", ev, want)
	}
}

// clientAgainst connects our TLS client with opts to a Go TLS server using
// leaf, and returns the client's events.
func clientAgainst(t *testing.T, leaf testLeaf, url string, opts TLSOptions) (*harness, *Conn) {
	pair, err := tls.X509KeyPair(leaf.cert, leaf.key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c.(*tls.Conn).Handshake()
				io.Copy(c, c)
				c.Close()
			}()
		}
	}()
	h := newHarness(t, nil, func(c *Conn, ev Event, data any) Result {
		if ev == EvConnect {
			c.TLSInit(opts)
			c.Send([]byte("ping"))
		}
		if ev == EvRead && string(c.RecvData()) == "ping" {
			c.Drain()
		}
		return ResultOK
	})
	url = strings.Replace(url, "PORT", fmt.Sprint(ln.Addr().(*net.TCPAddr).Port), 1)
	c, err := h.m.Connect(url, ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h.until("close", func() bool { return c.IsClosed() })
	return h, c
}

func errorOf(h *harness, c *Conn) string {
	for _, r := range h.log {
		if r.c == c && r.ev == EvError {
			return r.data.(string)
		}
	}
	return ""
}

func TestTLSClientVerification(t *testing.T) {
	p := getPKI(t)
	other := newPKI("Other CA")
	good := p.leaf(localHosts, false)
	cases := []struct {
		name    string
		leaf    testLeaf
		url     string
		opts    TLSOptions
		wantErr string
	}{
		{"ok with ca", good, "tls://127.0.0.1:PORT", TLSOptions{CA: p.caPEM}, ""},
		{"ok name", good, "tls://127.0.0.1:PORT", TLSOptions{CA: p.caPEM, Name: "localhost"}, ""},
		{"ok no ca", good, "tls://127.0.0.1:PORT", TLSOptions{}, ""},
		{"wrong host", good, "tls://127.0.0.1:PORT", TLSOptions{CA: p.caPEM, Name: "wrong.example"}, "not wrong.example"},
		{"wrong host no ca", good, "tls://127.0.0.1:PORT", TLSOptions{Name: "wrong.example"}, "not wrong.example"},
		{"untrusted", good, "tls://127.0.0.1:PORT", TLSOptions{CA: other.caPEM}, "unknown authority"},
		{"expired", p.leaf(localHosts, true), "tls://127.0.0.1:PORT", TLSOptions{CA: p.caPEM}, "expired"},
		{"skip all", p.leaf([]string{"elsewhere"}, true), "tls://127.0.0.1:PORT", TLSOptions{CA: other.caPEM, Name: "x", SkipVerification: true}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, c := clientAgainst(t, tc.leaf, tc.url, tc.opts)
			e := errorOf(h, c)
			if tc.wantErr == "" {
				if e != "" || h.count(c, EvTLSHS) != 1 {
					t.Fatalf("error %q; events %s", e, h.summary(c))
				}
				return
			}
			if !strings.Contains(e, tc.wantErr) || h.count(c, EvTLSHS) != 0 {
				t.Fatalf("error %q, want %q; events %s", e, tc.wantErr, h.summary(c))
			}
			if ev := h.events(c); ev[len(ev)-1] != EvClose {
				t.Fatalf("events %v", ev)
			}
		})
	}
}

func TestTLSInitBadMaterial(t *testing.T) {
	p := getPKI(t)
	leaf := p.leaf(localHosts, false)
	cases := []struct {
		opts TLSOptions
		want string
	}{
		{TLSOptions{Cert: leaf.cert}, "Certificate provided without a private key"},
		{TLSOptions{Cert: leaf.cert, Key: []byte("garbage")}, "TLS"},
		{TLSOptions{Cert: leaf.cert, Key: leaf.key, CA: []byte("-----BEGIN nothing")}, "ca"},
		{TLSOptions{}, "certificate"},
	}
	for _, tc := range cases {
		var errs []string
		h := newHarness(t, nil, func(c *Conn, ev Event, data any) Result {
			if ev == EvError {
				errs = append(errs, data.(string))
			}
			if ev == EvAccept {
				c.TLSInit(tc.opts)
				if len(errs) != 1 || !c.IsClosing() {
					t.Errorf("tls_init(%+v): errors %q (synchronous EvError expected)", tc.opts, errs)
				}
			}
			return ResultOK
		})
		_, addr := tlsListen(t, h, TLSOptions{})
		res := rawClient(addr, []byte("x"), true)
		r := recv(h, "client", res)
		_ = r
		if len(errs) != 1 || !strings.Contains(errs[0], tc.want) {
			t.Fatalf("errors %q, want %q", errs, tc.want)
		}
	}
}

func TestTLSDowngradeWithoutInit(t *testing.T) {
	h := newHarness(t, nil, func(c *Conn, ev Event, data any) Result {
		if ev == EvAccept && !c.IsTLS() {
			panic("is_tls must be true during EvAccept on https")
		}
		if ev == EvRead {
			c.Send(c.RecvData())
			c.Drain()
		}
		return ResultOK
	})
	l, addr := tlsListen(t, h, TLSOptions{})
	r := recv(h, "echo", rawClient(addr, []byte("plain"), true))
	if string(r.data) != "plain" {
		t.Fatalf("got %q", r.data)
	}
	for _, c := range h.accepted(l) {
		if c.IsTLS() {
			t.Fatal("not downgraded")
		}
	}
}

func TestTLSMutual(t *testing.T) {
	p := getPKI(t)
	srv := serverOpts(p)
	srv.CA = p.caPEM
	var srvErr string
	h := newHarness(t, nil, onAcceptTLS(srv, func(c *Conn, ev Event, data any) {
		switch ev {
		case EvHTTPMsg:
			c.Reply(200, nil, []byte("mutual"))
			c.Drain()
		case EvError:
			srvErr = data.(string)
		}
	}))
	_, addr := tlsListen(t, h, TLSOptions{})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.caPEM)
	cl := p.leaf([]string{"client"}, false)
	pair, _ := tls.X509KeyPair(cl.cert, cl.key)
	res := recv(h, "with cert", goTLSGet(addr, &tls.Config{RootCAs: pool, ServerName: "localhost", Certificates: []tls.Certificate{pair}}, getReq))
	if res.err != nil || !bytes.HasSuffix(res.data, []byte("mutual")) {
		t.Fatalf("with cert: %v %q", res.err, res.data)
	}
	res = recv(h, "without cert", goTLSGet(addr, &tls.Config{RootCAs: pool, ServerName: "localhost"}, getReq))
	if res.err == nil {
		t.Fatalf("without cert: got %q", res.data)
	}
	h.until("server error", func() bool { return srvErr != "" })
	if !strings.Contains(srvErr, "certificate") {
		t.Fatalf("server error %q", srvErr)
	}
	// Our client with its certificate against our server.
	var body string
	var clientErr string
	h.on = func(c *Conn, ev Event, data any) Result {
		switch {
		case ev == EvAccept:
			c.TLSInit(srv)
		case ev == EvConnect && c.IsClient():
			c.TLSInit(TLSOptions{CA: p.caPEM, Cert: cl.cert, Key: cl.key})
			c.Send([]byte(getReq))
		case ev == EvHTTPMsg && c.IsClient():
			body = string(data.(*HTTPMessage).Body)
		case ev == EvHTTPMsg:
			c.Reply(200, nil, []byte("ours"))
			c.Drain()
		case ev == EvError && c.IsClient():
			clientErr = data.(string)
		}
		return ResultOK
	}
	c, _ := h.m.Connect("https://"+addr, ConnectOptions{HTTP: true})
	h.until("client closed", func() bool { return c.IsClosed() })
	if body != "ours" || clientErr != "" {
		t.Fatalf("body %q err %q; %s", body, clientErr, h.summary(c))
	}
}

func TestTLSLargeDrain(t *testing.T) {
	p := getPKI(t)
	big := make([]byte, 16<<20)
	for i := range big {
		big[i] = byte(i*7 + i>>13)
	}
	h := newHarness(t, nil, onAcceptTLS(serverOpts(p), func(c *Conn, ev Event, data any) {
		if ev == EvHTTPMsg {
			c.Reply(200, nil, big)
			c.Drain()
		}
	}))
	_, addr := tlsListen(t, h, TLSOptions{})
	res := recv(h, "big", goTLSGet(addr, &tls.Config{InsecureSkipVerify: true}, getReq))
	if res.err != nil {
		t.Fatal(res.err)
	}
	i := bytes.Index(res.data, []byte("\r\n\r\n"))
	if i < 0 || sha256.Sum256(res.data[i+4:]) != sha256.Sum256(big) {
		t.Fatalf("body differs (%d bytes)", len(res.data))
	}
}

func TestTLSLargeUpload(t *testing.T) {
	p := getPKI(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB
	var got int
	h := newHarness(t, nil, onAcceptTLS(serverOpts(p), func(c *Conn, ev Event, data any) {
		if ev == EvHTTPMsg {
			msg := data.(*HTTPMessage)
			body := msg.Body
			got = len(body)
			if !bytes.Equal(body, big) {
				got = -1
			}
			c.Reply(200, nil, []byte("ok"))
			c.Drain()
		}
	}))
	_, addr := tlsListen(t, h, TLSOptions{})
	req := fmt.Sprintf("POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s", len(big), big)
	res := recv(h, "upload", goTLSGet(addr, &tls.Config{InsecureSkipVerify: true}, req))
	if res.err != nil || !bytes.HasSuffix(res.data, []byte("ok")) || got != len(big) {
		t.Fatalf("err %v got %d resp %q", res.err, got, trunc(res.data))
	}
}

func TestTLSConcurrentHandshakes(t *testing.T) {
	p := getPKI(t)
	h := newHarness(t, nil, onAcceptTLS(serverOpts(p), func(c *Conn, ev Event, data any) {
		if ev == EvHTTPMsg {
			c.Reply(200, nil, []byte("hi"))
			c.Drain()
		}
	}))
	_, addr := tlsListen(t, h, TLSOptions{})
	const n = 100
	chans := make([]<-chan clientResult, n)
	for i := range chans {
		chans[i] = goTLSGet(addr, &tls.Config{InsecureSkipVerify: true}, getReq)
	}
	for i, ch := range chans {
		r := recv(h, "client", ch)
		if r.err != nil || !bytes.HasSuffix(r.data, []byte("hi")) {
			t.Fatalf("client %d: %v %q", i, r.err, r.data)
		}
	}
	// Our own clients against our server, all at once.
	done := 0
	h.on = func(c *Conn, ev Event, data any) Result {
		switch {
		case ev == EvAccept:
			c.TLSInit(serverOpts(p))
		case ev == EvConnect && c.IsClient():
			c.TLSInit(TLSOptions{SkipVerification: true})
			c.Send([]byte(getReq))
		case ev == EvHTTPMsg && c.IsClient():
			done++
			c.Drain()
		case ev == EvHTTPMsg:
			c.Reply(200, nil, []byte("hi"))
		}
		return ResultOK
	}
	for i := 0; i < n; i++ {
		h.m.Connect("https://"+addr, ConnectOptions{HTTP: true})
	}
	h.until("all clients", func() bool { return done == n })
}

func TestTLSHandshakeGarbage(t *testing.T) {
	p := getPKI(t)
	var errs []string
	h := newHarness(t, nil, onAcceptTLS(serverOpts(p), func(c *Conn, ev Event, data any) {
		if ev == EvError {
			errs = append(errs, data.(string))
		}
	}))
	l, addr := tlsListen(t, h, TLSOptions{})
	recv(h, "client", rawClient(addr, []byte("GET / HTTP/1.1\r\n\r\n"), false))
	for _, c := range h.accepted(l) {
		h.until("close", func() bool { return c.IsClosed() })
	}
	if len(errs) != 1 || !strings.HasPrefix(errs[0], "TLS") {
		t.Fatalf("errors %q", errs)
	}
	// A peer that closes in the middle of the handshake.
	errs = nil
	recv(h, "client", rawClient(addr, []byte{22, 3, 1, 0, 200, 1}, true))
	for _, c := range h.accepted(l) {
		h.until("close", func() bool { return c.IsClosed() })
	}
	if len(errs) != 1 {
		t.Fatalf("errors %q", errs)
	}
}

func TestTLSFreeAndCloseMidHandshake(t *testing.T) {
	p := getPKI(t)
	h := newHarness(t, nil, onAcceptTLS(serverOpts(p), nil))
	l, addr := tlsListen(t, h, TLSOptions{})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	h.until("accept", func() bool { return len(h.accepted(l)) == 1 })
	c := h.accepted(l)[0]
	if !c.IsTLS() || !c.HasTLSState() {
		t.Fatal("no TLS state")
	}
	c.Close() // the handshake goroutine is waiting for a ClientHello
	if !c.IsClosed() {
		t.Fatal("not closed")
	}
	h.pollOnce(0)
}
