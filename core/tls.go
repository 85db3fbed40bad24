package core

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// TLS over the event loop (docs/api.md §11, docs/design.md §4).
//
// crypto/tls cannot pause a handshake and resume it later, so each
// connection's handshake runs in its own goroutine over an in-memory pipe
// (tlsPipe): the loop feeds it the ciphertext it reads from the socket,
// and the ciphertext the handshake produces is handed back through the
// Manager's queue plus eventfd (m.post) and written by the loop. Once the
// handshake has finished the goroutine is gone and the record layer runs
// synchronously on the loop thread: the pipe then answers a read with no
// data by a temporary error (errWouldBlock), which crypto/tls does not
// treat as fatal, so decryption happens in the same turn as the socket
// read and each EvRead follows the plaintext it reports.
//
// c.send always holds plaintext. The write step encrypts a window of it
// (tlsChunk bytes) into wbuf and removes it from c.send only once all of
// its ciphertext has reached the socket, so SendLen, the drain rule and
// the drain stall timeout keep their meaning. A drain ends with a
// close_notify alert written before the socket is closed.

// TLSOptions is TlsOpts (docs/api.md §11.1): empty fields are absent.
type TLSOptions struct {
	CA, Cert, Key    []byte // PEM or DER
	Name             string // expected server name (SNI and name check)
	SkipVerification bool   // no certificate checks at all
}

// tlsChunk is the plaintext encrypted per write round (4 full records).
const tlsChunk = 4 * 16384

// tlsMaxPending bounds the ciphertext buffered while a handshake runs.
const tlsMaxPending = 16 << 20

type tlsState struct {
	c       *Conn
	cfg     *tls.Config
	p       *tlsPipe
	tc      *tls.Conn
	started bool // handshake goroutine launched
	hsDone  bool // handshake finished and reported (loop side)
	failed  bool // handshake failure reported
	more    bool // decrypt without new socket data (buffered records)
	rawEOF  bool // the socket returned end-of-file
	notify  bool // close_notify queued

	inflight int    // plaintext at the front of c.send already in wbuf
	wbuf     []byte // ciphertext for the socket (loop-owned)
	woff     int
}

// errWouldBlock is the pipe's "no ciphertext yet" once the record layer
// runs on the loop; crypto/tls keeps its state on temporary errors.
var errWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "tls pipe: would block" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

// tlsPipe is the net.Conn crypto/tls runs over.
type tlsPipe struct {
	m *Manager
	t *tlsState

	mu       sync.Mutex
	cond     sync.Cond
	in       iobuf  // ciphertext read from the socket, not yet consumed
	inEOF    bool   // no more ciphertext will come
	out      []byte // ciphertext produced, not yet taken by the loop
	block    bool   // Read waits for data (handshake goroutine)
	closed   bool   // torn down
	queued   bool   // an entry for t is in the Manager's queue
	finished bool   // handshake goroutine done
	hsErr    error
}

func (p *tlsPipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.in.len() == 0 {
		switch {
		case p.closed:
			return 0, net.ErrClosed
		case p.inEOF:
			return 0, io.EOF
		case !p.block:
			return 0, errWouldBlock
		}
		p.cond.Wait()
	}
	n := copy(b, p.in.data())
	p.in.consume(n)
	return n, nil
}

func (p *tlsPipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return 0, net.ErrClosed
	}
	p.out = append(p.out, b...)
	post := p.block && !p.queued
	if post {
		p.queued = true
	}
	p.mu.Unlock()
	if post {
		p.m.postTLS(p.t)
	}
	return len(b), nil
}

func (p *tlsPipe) Close() error {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
	return nil
}

var pipeAddr = &net.TCPAddr{IP: net.IPv4zero}

func (p *tlsPipe) LocalAddr() net.Addr                { return pipeAddr }
func (p *tlsPipe) RemoteAddr() net.Addr               { return pipeAddr }
func (p *tlsPipe) SetDeadline(t time.Time) error      { return nil }
func (p *tlsPipe) SetReadDeadline(t time.Time) error  { return nil }
func (p *tlsPipe) SetWriteDeadline(t time.Time) error { return nil }

// handshake runs in the connection's goroutine.
func (p *tlsPipe) handshake(tc *tls.Conn) {
	err := tc.Handshake()
	p.mu.Lock()
	p.finished = true
	p.hsErr = err
	p.block = false
	post := !p.queued && !p.closed
	if post {
		p.queued = true
	}
	p.mu.Unlock()
	if post {
		p.m.postTLS(p.t)
	}
}

// postTLS queues t for the loop and interrupts Wait.
func (m *Manager) postTLS(t *tlsState) {
	m.post(func() { m.tlsQ = append(m.tlsQ, t) })
}

// runTLS services the connections whose handshake goroutine produced
// output or finished (called by runQueues, after the queue signal reset).
func (m *Manager) runTLS() {
	m.mu.Lock()
	q := m.tlsQ
	m.tlsQ = nil
	m.mu.Unlock()
	for i, t := range q {
		if m.aborted {
			m.mu.Lock()
			m.tlsQ = append(q[i:], m.tlsQ...)
			m.mu.Unlock()
			return
		}
		m.tlsService(t)
	}
}

func (m *Manager) tlsService(t *tlsState) {
	c := t.c
	if c.has(fClosed) || c.has(fInClose) || c.tlsSt() != t {
		return
	}
	p := t.p
	p.mu.Lock()
	p.queued = false
	fin, err := p.finished, p.hsErr
	p.mu.Unlock()
	t.collect()
	if fin && !t.hsDone && !t.failed {
		if err != nil {
			t.failed = true
			if !c.has(fClosing) && c.has(fWritable) {
				m.tlsFlush(c) // the alert, for the peer's benefit
			}
			c.Error(tlsErrText(err, c.has(fClient)))
			return
		}
		t.hsDone = true
		t.more = true // records that came with the last flight
		m.emit(c, EvTLSHS, nil)
		if c.has(fClosed) || m.aborted || c.tlsSt() != t {
			return
		}
	}
	if !c.has(fClosing) && c.established() && c.has(fWritable) && t.woff < len(t.wbuf) {
		m.tlsFlush(c)
	}
	m.kick(c)
}

// collect moves the ciphertext the TLS layer produced into wbuf.
func (t *tlsState) collect() {
	p := t.p
	p.mu.Lock()
	if len(p.out) > 0 {
		if t.woff == len(t.wbuf) {
			t.wbuf, t.woff = t.wbuf[:0], 0
		}
		t.wbuf = append(t.wbuf, p.out...)
		p.out = p.out[:0]
	}
	p.mu.Unlock()
}

// TLSInit is Connection.tls_init (docs/api.md §11.2): it attaches a TLS state,
// client role for client connections and server role otherwise, and sets
// IsTLS. Bad key material delivers EvError (and the connection closes)
// before it returns. A second call replaces the state. On a listener it
// does nothing (accepted connections do not inherit TLS state).
func (c *Conn) TLSInit(o TLSOptions) {
	if c.has(fClosed) || c.has(fInClose) || c.m == nil || c.has(fListening) {
		return
	}
	if c.has(fUDP) {
		c.Error("TLS is not supported on UDP")
		return
	}
	cfg, err := cachedTLSConfig(o, !c.has(fClient), c.host())
	if err != nil {
		c.Error(err.Error())
		return
	}
	c.tlsDrop()
	c.setTLSSt(&tlsState{c: c, cfg: cfg})
	c.set(fTLS)
	if c.established() {
		c.m.tlsStart(c)
	}
	c.m.kick(c)
}

// TLSFree is Connection.tls_free: the TLS state is discarded and the
// connection continues in clear text.
func (c *Conn) TLSFree() {
	if c.has(fClosed) || c.m == nil {
		return
	}
	c.tlsDrop()
	c.clear(fTLS)
}

// HasTLSState reports an attached TLS state (tls_init called).
func (c *Conn) HasTLSState() bool { return c.tlsSt() != nil }

// tlsDrop stops the handshake goroutine, if any, and forgets the state.
func (c *Conn) tlsDrop() {
	t := c.tlsSt()
	if t == nil {
		return
	}
	c.setTLSSt(nil)
	if t.p != nil {
		t.p.Close()
	}
	if t.inflight > 0 {
		c.send.consume(t.inflight) // already went out as ciphertext
		t.inflight = 0
	}
}

// tlsStart launches the handshake on an established socket.
func (m *Manager) tlsStart(c *Conn) {
	t := c.tlsSt()
	t.started = true
	p := &tlsPipe{m: m, t: t, block: true}
	p.cond.L = &p.mu
	t.p = p
	if c.has(fClient) {
		t.tc = tls.Client(p, t.cfg)
	} else {
		t.tc = tls.Server(p, t.cfg)
	}
	go p.handshake(t.tc)
}

// tlsPending is Conn.pending for an established TLS connection.
func (c *Conn) tlsPending() bool {
	t := c.tlsSt()
	if !t.started {
		return true
	}
	flushed := t.woff >= len(t.wbuf)
	if c.has(fDraining) && c.send.len() == 0 && c.fileXfer() == nil && flushed {
		return true // close (after a close_notify once the handshake is done)
	}
	if !flushed {
		if c.has(fWritable) {
			return true
		}
	} else if t.hsDone {
		if c.send.len() > 0 && c.has(fWritable) {
			return true
		}
	}
	if t.hsDone && c.canRead() || !t.hsDone && c.has(fReadable) && !t.rawEOF {
		return true
	}
	return c.httpReparse()
}

// tlsFlushed reports that no ciphertext waits for the socket, nor a
// close_notify that a drain still has to write (endTurn).
func (c *Conn) tlsFlushed() bool {
	t := c.tlsSt()
	if t == nil {
		return true
	}
	if c.has(fDraining) && t.hsDone && !t.notify && c.has(fWritable) {
		return false
	}
	return t.woff >= len(t.wbuf)
}

// tlsReadStep is readStep for a TLS connection: socket bytes go to the TLS
// layer (the handshake goroutine, or the record layer), plaintext comes
// back into c.recv. It reports whether new plaintext was stored.
func (m *Manager) tlsReadStep(c *Conn) (got bool) {
	t := c.tlsSt()
	if !t.started {
		m.tlsStart(c)
	}
	if t.hsDone && c.has(fDraining) {
		t.more = false
		if c.has(fReadable) {
			m.discardInput(c)
		}
		return false
	}
	if c.has(fReadable) && !t.rawEOF && m.tlsFill(c) && !t.hsDone && !t.failed {
		t.failed = true
		c.Error("TLS handshake failed: connection reset by peer")
		return false
	}
	if t.hsDone && !c.has(fClosed) {
		got = m.tlsDecrypt(c)
	}
	if !c.has(fClosed) && !c.has(fInClose) && c.tlsSt() == t {
		t.collect()
		if t.woff < len(t.wbuf) && c.has(fWritable) && !c.has(fClosing) {
			m.tlsFlush(c) // alerts, key updates
		}
	}
	return got
}

// tlsFill reads what the socket has into the pipe; true on a reset.
func (m *Manager) tlsFill(c *Conn) (reset bool) {
	t := c.tlsSt()
	p := t.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if !t.hsDone && p.in.len() > tlsMaxPending {
		c.clear(fReadable)
		c.set(fClosing) // a handshake never needs this much
		return false
	}
	for i := 0; i < maxReadsPerTurn; i++ {
		n, end := c.sockRead(p.in.reserve(ioSize))
		if n > 0 {
			p.in.commit(n)
		}
		if end == readEOF || end == readReset {
			t.rawEOF = true
			p.inEOF = true
		}
		if end == readReset {
			c.set(fClosing)
			reset = true
		}
		if end != readOn {
			break
		}
	}
	p.cond.Signal()
	return reset
}

// tlsDecrypt runs the record layer on the loop until it needs more
// ciphertext, within the receive limit.
func (m *Manager) tlsDecrypt(c *Conn) (got bool) {
	t := c.tlsSt()
	lim := m.recvLimit(c)
	t.more = false
	for {
		if lim > 0 && c.recv.len() >= lim {
			if !got {
				c.Error("MG_MAX_RECV_SIZE")
			} else {
				t.more = true // report this batch first
			}
			break
		}
		if c.bodyPaused() {
			t.more = true // decrypt the rest once the adapter consumed (http_body_stream.go)
			break
		}
		c.growRecvSize()
		buf := c.bodyReadLimit(c.recv.reserve(ioSize))
		n, err := t.tc.Read(buf)
		if n > 0 {
			c.recv.commit(n)
			got = true
		}
		if err == nil {
			continue
		}
		if err == errWouldBlock {
			break
		}
		if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
			c.set(fPeerEOF) // close_notify or end-of-file
			c.clear(fReadable)
			break
		}
		if !c.has(fClosing) {
			c.Error(tlsErrText(err, c.has(fClient)))
		}
		break
	}
	c.fitRecvSize()
	return got
}

// tlsWriteStep is writeStep for a TLS connection: handshake flights, then
// c.send encrypted a window at a time, then (draining, once everything is
// out) a close_notify. EvWrite follows a successful write of records.
func (m *Manager) tlsWriteStep(c *Conn) {
	t := c.tlsSt()
	if !c.has(fWritable) || c.has(fUDP) || c.has(fListening) {
		return
	}
	if !t.started {
		m.tlsStart(c)
	}
	t.collect()
	total := 0
	for c.has(fWritable) && !c.has(fClosing) {
		if t.woff >= len(t.wbuf) {
			t.wbuf, t.woff = t.wbuf[:0], 0
			if t.inflight > 0 {
				c.send.consume(t.inflight)
				t.inflight = 0
			}
			if !t.hsDone {
				break
			}
			if c.send.len() == 0 {
				if c.has(fDraining) && !t.notify && c.fileXfer() == nil {
					t.notify = true
					t.tc.CloseWrite()
					t.collect()
					continue
				}
				break
			}
			if t.notify {
				c.send.consume(c.send.len()) // nothing may follow close_notify
				break
			}
			p := c.send.data()
			if len(p) > tlsChunk {
				p = p[:tlsChunk]
			}
			if _, err := t.tc.Write(p); err != nil {
				c.Error(tlsErrText(err, c.has(fClient)))
				return
			}
			t.inflight = len(p)
			t.collect()
			continue
		}
		n, ok := m.sendOut(c, t.wbuf[t.woff:], false)
		t.woff += n
		total += n
		if !ok {
			m.tlsWriteFailed(c)
		}
		if !ok || t.woff < len(t.wbuf) {
			break // the socket is full or failed
		}
	}
	if total > 0 {
		c.setLastWrite(m.now)
		if t.hsDone {
			m.emit(c, EvWrite, nil)
		}
	}
}

// tlsFlush writes wbuf without encrypting anything new (no event).
func (m *Manager) tlsFlush(c *Conn) {
	t := c.tlsSt()
	n, ok := m.sendOut(c, t.wbuf[t.woff:], false)
	t.woff += n
	if n > 0 {
		c.setLastWrite(m.clock())
	}
	if !ok {
		m.tlsWriteFailed(c)
	}
}

// tlsWriteFailed: the peer can no longer receive. During the handshake
// that is a handshake failure (EvError); afterwards a plain close.
func (m *Manager) tlsWriteFailed(c *Conn) {
	c.clear(fWritable)
	c.set(fClosing)
	if t := c.tlsSt(); t != nil && !t.hsDone && !t.failed {
		t.failed = true
		c.Error("TLS handshake failed: connection reset by peer")
	}
}

// tlsErrText words a TLS failure for EvError (63 bytes are kept).
func tlsErrText(err error, client bool) string {
	var cv *tls.CertificateVerificationError
	if errors.As(err, &cv) {
		err = cv.Err
	}
	var ci x509.CertificateInvalidError
	if errors.As(err, &ci) && ci.Reason == x509.Expired {
		return "TLS: certificate has expired or is not yet valid"
	}
	s := err.Error()
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "TLS handshake failed: connection closed by peer"
	}
	if errors.Is(err, net.ErrClosed) {
		return "TLS handshake aborted"
	}
	s = strings.ReplaceAll(s, "tls: ", "")
	s = strings.TrimPrefix(s, "x509: ")
	return "TLS: " + s
}
